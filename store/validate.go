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
// characters of valid UTF-8, no control characters, not starting with "$"
// (reserved). It returns an error wrapping ErrInvalidStreamID.
func ValidateStreamID(id string) error {
	if err := checkName(id, MaxStreamIDLength); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidStreamID, truncate(id), err)
	}
	if strings.HasPrefix(id, "$") {
		return fmt.Errorf("%w %q: must not start with \"$\"", ErrInvalidStreamID, truncate(id))
	}
	return nil
}

// ValidateGuildID reports whether id is a valid guild id: 1 to 100
// characters of valid UTF-8 and no control characters. It returns an error
// wrapping ErrInvalidGuildID.
func ValidateGuildID(id string) error {
	if err := checkName(id, MaxGuildIDLength); err != "" {
		return fmt.Errorf("%w %q: %s", ErrInvalidGuildID, truncate(id), err)
	}
	return nil
}

func checkName(s string, maxLen int) string {
	switch {
	case s == "":
		return "must not be empty"
	case !utf8.ValidString(s):
		return "must be valid UTF-8"
	case utf8.RuneCountInString(s) > maxLen:
		return fmt.Sprintf("must be at most %d characters", maxLen)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "must not contain control characters"
	}
	return ""
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
