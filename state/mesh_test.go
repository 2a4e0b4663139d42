package state

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMeshFastPath(t *testing.T) {
	f := fullFile(64)
	b, err := Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(map[string]map[string]string(got.Mesh), map[string]map[string]string(f.Mesh)) {
		t.Fatal("decoded mesh differs")
	}
	if _, ok := fastMesh(b[len(`{"mesh":`)-8:]); ok {
		t.Fatal("fast path accepted a truncated document")
	}
	for _, in := range []string{`{"1_2":{"1_1":"Authen\u0074icated"}}`, `{"1_2":{"1_1":"é"}}`, `{"1_2":{"1_1":1}}`} {
		if _, ok := fastMesh([]byte(in)); ok {
			t.Errorf("fast path accepted %s", in)
		}
	}
}

// FuzzMesh: whatever the fast path accepts, encoding/json decodes to the
// same value; and the type as a whole decodes like a plain map.
func FuzzMesh(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"1_2":null}`, `{"1_2":{}}`,
		`{ "1_2" : { "1_1" : "Authenticated" , "2_1":"Unknown"} ,"2_1":{"1_1":"Untrusted"}}`,
		`{"1_2":{"1_1":"A"},"1_2":{"2_1":"B"}}`,
		`{"1_2":{"1_1":"A","1_1":"B"}}`,
		`{"a\"b":{}}`, `{"x":{"y":"\u00e9"}}`, `{"x":{"y":"z"}} x`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var want map[string]map[string]string
		werr := json.Unmarshal(b, &want)
		if fm, ok := fastMesh(b); ok {
			if werr != nil {
				t.Fatalf("fast path accepted %q, encoding/json: %v", b, werr)
			}
			if !reflect.DeepEqual(map[string]map[string]string(fm), want) {
				t.Fatalf("fast %v, encoding/json %v for %q", fm, want, b)
			}
		}
		var m Mesh
		err := json.Unmarshal(b, &m)
		if (err == nil) != (werr == nil) {
			t.Fatalf("Mesh error %v, map error %v for %q", err, werr, b)
		}
		if err == nil && !reflect.DeepEqual(map[string]map[string]string(m), want) {
			t.Fatalf("Mesh %v, map %v for %q", m, want, b)
		}
	})
}

func BenchmarkDecodeState(b *testing.B) {
	x, _ := Encode(fullFile(64))
	b.SetBytes(int64(len(x)))
	for b.Loop() {
		if _, err := Decode(x); err != nil {
			b.Fatal(err)
		}
	}
}
