package config

import (
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// readYAML reads a config file keeping every scalar as the text the admin
// wrote. Plain YAML decoding reads an unquoted 1_2 as the integer 12, which
// would silently turn orchestrator 1_2 into a nonsense ID.
func readYAML(file string) (map[string]any, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("reading config file: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	if len(doc.Content) == 0 {
		return map[string]any{}, nil
	}
	v, err := nodeValue(doc.Content[0], "")
	if err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("config file %s: top level must be a mapping of keys", file)
	}
	return m, nil
}

func nodeValue(n *yaml.Node, path string) (any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", nil
		}
		return n.Value, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := nodeValue(c, path)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		out := map[string]any{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			full := k
			if path != "" {
				full = path + "." + k
			}
			v, err := nodeValue(n.Content[i+1], full)
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case yaml.AliasNode:
		return nodeValue(n.Alias, path)
	}
	return nil, fmt.Errorf("key %s: unsupported YAML node", path)
}
