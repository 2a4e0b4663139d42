package config

import (
	"bytes"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// parseYAML reads a config document keeping every scalar as the text the admin
// wrote. Plain YAML decoding reads an unquoted 1_2 as the integer 12, which
// would silently turn orchestrator 1_2 into a nonsense ID.
func parseYAML(raw []byte) (map[string]any, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 {
		return map[string]any{}, nil
	}
	v, err := nodeValue(doc.Content[0], "")
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("top level must be a mapping of keys")
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

// SetKey sets the dotted key (which must be a known key) to value in the
// YAML document doc, keeping the rest of the document and its comments.
func SetKey(doc []byte, key, value string) ([]byte, error) {
	if _, ok := Defaults[key]; !ok {
		return nil, &KeyError{Key: key, Value: value, Expected: "a known key (" + strings.Join(knownKeys(), ", ") + ")"}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil {
		return nil, fmt.Errorf("parsing config: %w", err)
	}
	if len(root.Content) == 0 {
		root.Kind = yaml.DocumentNode
		root.Content = []*yaml.Node{{Kind: yaml.MappingNode, Tag: "!!map"}}
	}
	m := root.Content[0]
	parts := strings.Split(key, ".")
	for i, p := range parts {
		if m.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("config key %s: %s is not a mapping", key, strings.Join(parts[:i], "."))
		}
		var next *yaml.Node
		for j := 0; j+1 < len(m.Content); j += 2 {
			if m.Content[j].Value == p {
				next = m.Content[j+1]
			}
		}
		last := i == len(parts)-1
		if next == nil {
			next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			if last {
				next = &yaml.Node{Kind: yaml.ScalarNode}
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: p}, next)
		}
		if last {
			// Quoted, so YAML never reinterprets the text (1_2 as 12).
			*next = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Style: yaml.DoubleQuotedStyle, Value: value, LineComment: next.LineComment, HeadComment: next.HeadComment}
		}
		m = next
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("encoding config: %w", err)
	}
	return b.Bytes(), nil
}
