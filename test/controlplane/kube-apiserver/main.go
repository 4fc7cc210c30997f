// Command kube-apiserver is the upstream API server, built from the Go module
// proxy for the end-to-end tests (upstream's own replace directives stop
// `go install k8s.io/kubernetes/cmd/kube-apiserver@...` from working).
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
