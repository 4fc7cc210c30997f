// kstatus computes the kstatus status (sigs.k8s.io/cli-utils, the library
// kpt and Flux's health checks build on) of each object it is given.
//
//	kstatus FILE...   (FILE may be "-": e.g. `kubectl get topologyconfigs -o json | kstatus -`)
package main

import (
	"os"

	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	"topology.local/test/tools/internal/objects"
)

func main() {
	objs, err := objects.Read(os.Args[1:])
	if err != nil {
		objects.Fail(err)
	}
	results := []objects.Result{}
	for _, o := range objs {
		res, err := status.Compute(o.Unstructured)
		if err != nil {
			objects.Fail(err)
		}
		results = append(results, objects.NewResult(o, res.Status.String(), res.Message))
	}
	if err := objects.Print(results); err != nil {
		objects.Fail(err)
	}
}
