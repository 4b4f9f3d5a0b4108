package store

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxStreamIDLength is the longest stream id, in characters.
const MaxStreamIDLength = 255

// MaxGuildIDLength is the longest guild id, in characters.
const MaxGuildIDLength = 100

// ValidateStreamID reports whether id is a valid stream id: 1 to 255
// characters of valid UTF-8, no control, format (zero-width, bidi, BOM) or
// line separator characters, no white space at either end, not starting
// with "$" (reserved). It returns an error wrapping ErrInvalidStreamID.
func ValidateStreamID(id string) error {
	if err := checkName(id, MaxStreamIDLength); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidStreamID, truncate(id), err)
	}
	if strings.HasPrefix(id, "$") {
		return fmt.Errorf("%w %q: must not start with \"$\"", ErrInvalidStreamID, truncate(id))
	}
	return nil
}

// ValidateGuildID reports whether id is a valid guild id: the stream id
// rule (but for "$") with at most 100 characters. It returns an error
// wrapping ErrInvalidGuildID.
func ValidateGuildID(id string) error {
	if err := checkName(id, MaxGuildIDLength); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidGuildID, truncate(id), err)
	}
	return nil
}

// checkName is the rule for stream ids, guild ids and subscription names,
// the same as eventstore.name_problem in SQL (a test compares both over
// every code point): 1 to maxLen characters of valid UTF-8; no control
// (Cc), format (Cf: zero-width characters, bidi controls, the BOM…) or
// line and paragraph separator characters anywhere; no white space at
// either end. It returns what is wrong, or "".
func checkName(s string, maxLen int) string {
	if s == "" {
		return "must not be empty"
	}
	// Most names are ASCII: one pass over the bytes decides them. No ASCII
	// character is a format or separator character, the controls are C0
	// and DEL, and the only white space that is not a control is the space.
	control := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			return checkNameRunes(s, maxLen)
		}
		if c < 0x20 || c == 0x7f {
			control = true
		}
	}
	return nameVerdict(len(s), maxLen, control, s[0] == ' ' || s[len(s)-1] == ' ')
}

// checkNameRunes is checkName for a name that is not all ASCII.
func checkNameRunes(s string, maxLen int) string {
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	first, _ := utf8.DecodeRuneInString(s)
	last, _ := utf8.DecodeLastRuneInString(s)
	return nameVerdict(utf8.RuneCountInString(s), maxLen, strings.IndexFunc(s, forbiddenInName) >= 0,
		isNameSpace(first) || isNameSpace(last))
}

// nameVerdict says what is wrong with a valid UTF-8 name of chars
// characters, in the rule's order, or "".
func nameVerdict(chars, maxLen int, forbidden, spaceAtEnd bool) string {
	switch {
	case chars > maxLen:
		return fmt.Sprintf("must be at most %d characters", maxLen)
	case forbidden:
		return "must not contain control, format or line separator characters"
	case spaceAtEnd:
		return "must not start or end with white space"
	}
	return ""
}

// forbiddenInName reports the characters no name may contain.
func forbiddenInName(r rune) bool {
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp)
}

// isNameSpace reports the characters a name may not start or end with.
func isNameSpace(r rune) bool {
	return unicode.In(r, unicode.White_Space, unicode.Zs)
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// maxEventTypeLength is the longest event type, in bytes.
const maxEventTypeLength = 255

// checkEventType says what is wrong with an event type, or "" when it is
// valid: 1 to 255 bytes of valid UTF-8 without control characters (C0, DEL
// and C1, as unicode.IsControl; a NUL byte included). It runs for every
// appended event, so it makes one pass over the bytes and decodes only the
// non-ASCII ones.
func checkEventType(typ string) string {
	if typ == "" || len(typ) > maxEventTypeLength {
		return "must be 1 to 255 characters"
	}
	for i := 0; i < len(typ); {
		if c := typ[i]; c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return "must not contain control characters"
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(typ[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return "must be valid UTF-8"
		case r <= 0x9f: // U+0080..U+009F, the C1 controls
			return "must not contain control characters"
		}
		i += size
	}
	return ""
}

// checkText says what PostgreSQL's text type refuses in s, or "": a NUL
// byte or invalid UTF-8.
func checkText(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "must not contain NUL bytes"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	}
	return ""
}
