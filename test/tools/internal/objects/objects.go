// Package objects reads Kubernetes objects for the test tools: YAML or JSON
// files (several documents, or a List such as `kubectl get -o json` prints),
// or standard input when the path is "-", and prints one result per object.
package objects

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/yaml"
)

// Object is one object and where it came from ("file" or "file#2").
type Object struct {
	Source string
	*unstructured.Unstructured
}

// Result is what each tool prints for an object, as a JSON array element.
type Result struct {
	Source    string `json:"source"`
	Namespace string `json:"namespace,omitempty"`
	Name      string `json:"name"`
	Status    string `json:"status"`
	Message   string `json:"message"`
}

// Read returns every object of the given paths, in order.
func Read(paths []string) ([]Object, error) {
	var out []Object
	for _, path := range paths {
		var data []byte
		var err error
		if path == "-" {
			data, err = io.ReadAll(os.Stdin)
		} else {
			data, err = os.ReadFile(path)
		}
		if err != nil {
			return nil, err
		}
		docs, err := split(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		for i, doc := range docs {
			source := path
			if len(docs) > 1 {
				source = fmt.Sprintf("%s#%d", path, i)
			}
			out = append(out, Object{Source: source, Unstructured: doc})
		}
	}
	return out, nil
}

// split parses YAML documents (JSON is YAML) and unrolls Lists.
func split(data []byte) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		if strings.TrimSpace(string(doc)) == "" {
			continue
		}
		// Whole numbers become int64, as in objects the API machinery decodes.
		data, err := yaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		content := map[string]any{}
		if err := utiljson.Unmarshal(data, &content); err != nil {
			return nil, err
		}
		if len(content) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: content}
		if items, ok := content["items"].([]any); ok && strings.HasSuffix(u.GetKind(), "List") {
			for _, item := range items {
				if m, ok := item.(map[string]any); ok {
					out = append(out, &unstructured.Unstructured{Object: m})
				}
			}
			continue
		}
		out = append(out, u)
	}
	return out, nil
}

// NewResult fills in the object's identity.
func NewResult(o Object, status, message string) Result {
	return Result{Source: o.Source, Namespace: o.GetNamespace(), Name: o.GetName(), Status: status, Message: message}
}

// Print writes the results as one JSON array on standard output.
func Print(results []Result) error {
	if results == nil {
		results = []Result{}
	}
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	return encoder.Encode(results)
}

// Fail reports a usage or input error and exits with status 2.
func Fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(2)
}
