// Command kube-controller-manager is the upstream controller manager, built
// from the same k8s.io/kubernetes module as kube-apiserver so that namespaces
// terminate, default ServiceAccounts and kube-root-ca.crt appear, and
// ownerReferences are collected in the end-to-end tests as in a cluster.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() {
	os.Exit(cli.Run(app.NewControllerManagerCommand()))
}
