// argocd-health runs an Argo CD resource health check (health.lua) over each
// object it is given, in gopher-lua (the interpreter Argo CD embeds) and the
// way Argo CD runs a health check configured in argocd-cm: only the package,
// base and table libraries open, the object as the global `obj`, a one-second
// limit, and a returned table whose status must be one Argo CD knows.
//
//	argocd-health health.lua FILE...
package main

import (
	"context"
	"fmt"
	"os"
	"time"

	lua "github.com/yuin/gopher-lua"

	"topology.local/test/tools/internal/objects"
)

// The health statuses Argo CD accepts from a script; any other is Unknown.
var known = map[string]bool{
	"Unknown": true, "Progressing": true, "Suspended": true,
	"Healthy": true, "Degraded": true, "Missing": true,
}

func main() {
	if len(os.Args) < 3 {
		objects.Fail(fmt.Errorf("usage: argocd-health health.lua FILE..."))
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		objects.Fail(err)
	}
	objs, err := objects.Read(os.Args[2:])
	if err != nil {
		objects.Fail(err)
	}
	results := []objects.Result{}
	for _, o := range objs {
		status, message, err := run(string(script), o.Object)
		if err != nil {
			objects.Fail(fmt.Errorf("%s: %w", o.Source, err))
		}
		results = append(results, objects.NewResult(o, status, message))
	}
	if err := objects.Print(results); err != nil {
		objects.Fail(err)
	}
}

func run(script string, obj map[string]any) (string, string, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return "", "", err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return "", "", err
	}
	table, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", fmt.Errorf("expected a table from the script, not %s", l.Get(-1).Type())
	}
	status, err := field(table, "status")
	if err != nil {
		return "", "", err
	}
	message, err := field(table, "message")
	if err != nil {
		return "", "", err
	}
	if !known[status] {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return status, message, nil
}

// field is a string field of the returned table ("" when absent), as Argo CD
// reads it by decoding the table's JSON into its HealthStatus struct.
func field(table *lua.LTable, name string) (string, error) {
	switch v := table.RawGetString(name).(type) {
	case *lua.LNilType:
		return "", nil
	case lua.LString:
		return string(v), nil
	default:
		return "", fmt.Errorf("%s must be a string, not %s", name, v.Type())
	}
}

// toLua converts decoded JSON to Lua values: objects and arrays become tables.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case float64:
		return lua.LNumber(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case []any:
		t := l.CreateTable(len(v), 0)
		for _, item := range v {
			t.Append(toLua(l, item))
		}
		return t
	case map[string]any:
		t := l.CreateTable(0, len(v))
		for key, item := range v {
			t.RawSetString(key, toLua(l, item))
		}
		return t
	}
	return lua.LNil
}
