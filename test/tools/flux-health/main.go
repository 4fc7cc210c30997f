// flux-health evaluates a Flux Kustomization's spec.healthCheckExprs with
// Flux's own CEL status evaluator (github.com/fluxcd/pkg/runtime/cel, as
// kustomize-controller does) over each object of the matching apiVersion and
// kind; objects no expression set matches are an error. An expression that
// fails to evaluate (e.g. an object with no status yet) gives Unknown, as
// Flux's generic status reader reports it (and goes on waiting).
//
//	flux-health KUSTOMIZATIONS.yaml FILE...   (the first Kustomization with healthCheckExprs is used)
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"

	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"

	"topology.local/test/tools/internal/objects"
)

type kustomization struct {
	Spec struct {
		HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
	} `json:"spec"`
}

func main() {
	if len(os.Args) < 3 {
		objects.Fail(fmt.Errorf("usage: flux-health KUSTOMIZATION.yaml FILE..."))
	}
	docs, err := objects.Read(os.Args[1:2])
	if err != nil {
		objects.Fail(err)
	}
	var k kustomization
	for _, doc := range docs {
		if doc.GetKind() != "Kustomization" {
			continue
		}
		data, err := json.Marshal(doc.Object)
		if err == nil {
			err = json.Unmarshal(data, &k)
		}
		if err != nil {
			objects.Fail(fmt.Errorf("%s: %w", doc.Source, err))
		}
		if len(k.Spec.HealthCheckExprs) > 0 {
			break
		}
	}
	if len(k.Spec.HealthCheckExprs) == 0 {
		objects.Fail(fmt.Errorf("%s: no Kustomization with spec.healthCheckExprs", os.Args[1]))
	}
	evaluators := map[string]*cel.StatusEvaluator{}
	for _, check := range k.Spec.HealthCheckExprs {
		evaluator, err := cel.NewStatusEvaluator(&check.HealthCheckExpressions)
		if err != nil {
			objects.Fail(fmt.Errorf("%s %s: %w", check.APIVersion, check.Kind, err))
		}
		evaluators[check.APIVersion+"/"+check.Kind] = evaluator
	}
	objs, err := objects.Read(os.Args[2:])
	if err != nil {
		objects.Fail(err)
	}
	results := []objects.Result{}
	for _, o := range objs {
		key := o.GetAPIVersion() + "/" + o.GetKind()
		evaluator, ok := evaluators[key]
		if !ok {
			objects.Fail(fmt.Errorf("%s: no healthCheckExprs entry for %s", o.Source, key))
		}
		res, err := evaluator.Evaluate(context.Background(), o.Unstructured)
		if err != nil {
			results = append(results, objects.NewResult(o, "Unknown", err.Error()))
			continue
		}
		results = append(results, objects.NewResult(o, res.Status.String(), res.Message))
	}
	if err := objects.Print(results); err != nil {
		objects.Fail(err)
	}
}
