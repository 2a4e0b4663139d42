package configdb

import (
	"encoding/json"
	"errors"
	"fmt"
)

// migrate rewrites a saved document of an older schema as the current
// one, leaving every field it does not know alone (the strict decode that
// follows still refuses unknown ones). Migrations run in turn: 1→2, ...
func migrate(from int, b []byte) ([]byte, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	for v := from; v < SchemaVersion; v++ {
		step, ok := migrations[v]
		if !ok {
			return nil, fmt.Errorf("no migration from schema %d", v)
		}
		if err := step(doc); err != nil {
			return nil, err
		}
	}
	doc["schema"] = json.RawMessage(fmt.Sprint(SchemaVersion))
	return json.Marshal(doc)
}

var migrations = map[int]func(map[string]json.RawMessage) error{
	// Schema 1 users had one "role"; schema 2 users have "roles".
	1: func(doc map[string]json.RawMessage) error {
		raw, ok := doc["users"]
		if !ok || string(raw) == "null" {
			return nil
		}
		var users []map[string]json.RawMessage
		if err := json.Unmarshal(raw, &users); err != nil {
			return fmt.Errorf("users: %w", err)
		}
		for i, u := range users {
			role, ok := u["role"]
			if !ok {
				continue
			}
			var name string
			if err := json.Unmarshal(role, &name); err != nil {
				return fmt.Errorf("user %d: role: expected a string", i+1)
			}
			if _, both := u["roles"]; both {
				return errors.New("a user has both role and roles: expected one")
			}
			roles, _ := json.Marshal([]string{name})
			u["roles"] = roles
			delete(u, "role")
		}
		out, err := json.Marshal(users)
		if err != nil {
			return err
		}
		doc["users"] = out
		return nil
	},
}
