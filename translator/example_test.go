package translator_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/gamebot/eventstore/translator"
)

func ExampleTranslator_Translate() {
	tr := translator.New()
	_ = tr.RegisterType("guess_processed", 1, 2, 3)

	// v2 added duration_ms with a default of 0.
	_ = tr.RegisterMigration("guess_processed", 1, 2, func(obj map[string]any) (map[string]any, error) {
		obj["duration_ms"] = json.Number("0")
		return obj, nil
	})
	// v3 renamed player to player_id.
	_ = tr.RegisterMigration("guess_processed", 2, 3, func(obj map[string]any) (map[string]any, error) {
		obj["player_id"] = obj["player"]
		delete(obj, "player")
		return obj, nil
	})

	stored := []byte(`{"player":"123456789012345678","word":"apple"}`)
	path, _ := tr.Path("guess_processed", 1, 3)
	latest, _ := tr.Latest("guess_processed")
	data, err := tr.Translate("guess_processed", 1, latest, stored)
	fmt.Println(path, string(data), err)

	_, err = tr.Translate("guess_processed", 3, 1, data)
	fmt.Println(err, errors.Is(err, translator.ErrNoPath))
	// Output:
	// [1 2 3] {"duration_ms":0,"player_id":"123456789012345678","word":"apple"} <nil>
	// no migration path: guess_processed v3 to v1 true
}
