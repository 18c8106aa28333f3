package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Bounds of module expansion: calls nest at most maxModuleDepth deep, a
// configuration expands at most maxModules calls, and a module's folder
// lies inside the repository that holds the folder read (the nearest
// folder with a .git at most maxModuleUp folders above it), or, outside
// a repository, at most maxModuleUp folders above the folder read.
const (
	maxModuleDepth = 4
	maxModules     = 64
	maxModuleUp    = 3
)

// expand evaluates the module calls of m, read from dir, whose source is
// a local folder ("./x", "../modules/y"): each called module is read with
// its variables set from the call's arguments, its resources added under
// "module.NAME." and its outputs made known to m. A call with a count of
// 0 or an empty for_each is left out; other counts stand for one
// instance. Registry and remote sources, and folders beyond the bounds,
// are warned about and left out: their resources do not exist for the
// analysis, and nothing is fetched.
func (m *module) expand(ctx context.Context, b *builder, dir, limit string, depth int, n *int) error {
	for _, call := range callOrder(m.calls) {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := call.Labels[0]
		src := ""
		if a, ok := call.Body.Attributes["source"]; ok {
			if v := m.value(a.Expr); v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
				src = v.AsString()
			}
		}
		local := strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")
		child := filepath.Join(dir, filepath.FromSlash(src))
		switch {
		case !local:
			b.opts.Warn("terraform: module %q (source %q) is not expanded: not a local folder", name, src)
			continue
		case depth >= maxModuleDepth || *n >= maxModules:
			b.opts.Warn("terraform: module %q is not expanded: more than %d modules or %d levels", name, maxModules, maxModuleDepth)
			continue
		case !within(child, limit):
			b.opts.Warn("terraform: module %q is not expanded: %s lies outside %s", name, src, limit)
			continue
		case m.absent(call):
			continue
		}
		*n++
		cm := newModule()
		cm.prefix = m.prefix + "module." + name + "."
		if err := cm.readDir(ctx, child); err != nil {
			return err
		}
		for arg, a := range call.Body.Attributes {
			switch arg {
			case "source", "version", "count", "for_each", "providers", "depends_on":
				continue
			}
			cm.vars[arg] = m.value(a.Expr)
		}
		if err := cm.resources(ctx, b); err != nil {
			return err
		}
		if err := cm.expand(ctx, b, child, limit, depth+1, n); err != nil {
			return err
		}
		outs := map[string]cty.Value{}
		for o, e := range cm.outputs {
			outs[o] = cm.value(e)
		}
		m.modOuts[name] = cty.ObjectVal(outs)
	}
	return nil
}

// moduleLimit returns the folder that the modules a configuration in dir
// calls must lie in: the repository holding dir (the nearest folder with
// a .git entry, dir included, at most maxModuleUp folders above it), else
// the folder maxModuleUp levels above dir. Links are resolved first.
func moduleLimit(dir string) string {
	base, err := filepath.Abs(dir)
	if err != nil {
		return dir
	}
	if r, err := filepath.EvalSymlinks(base); err == nil {
		base = r
	}
	up := base
	for i := 0; ; i++ {
		if _, err := os.Lstat(filepath.Join(up, ".git")); err == nil {
			return up
		}
		if i == maxModuleUp || filepath.Dir(up) == up {
			break
		}
		up = filepath.Dir(up)
	}
	return up
}

// within reports whether path, its links resolved, lies inside the
// folder limit.
func within(path, limit string) bool {
	p, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	rel, err := filepath.Rel(limit, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// readDir reads the .tf files of a module's folder in name order.
func (m *module) readDir(ctx context.Context, dir string) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	f, err := root.Open(".")
	if err != nil {
		return err
	}
	entries, err := f.ReadDir(-1)
	f.Close()
	if err != nil {
		return fmt.Errorf("read %s: %w", dir, err)
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && (strings.HasSuffix(e.Name(), ".tf") || strings.HasSuffix(e.Name(), ".tf.json")) {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		src, err := readLimited(root, name)
		if err != nil {
			return err
		}
		if err := m.addSource(filepath.Join(dir, name), src); err != nil {
			return err
		}
	}
	return nil
}

// callOrder orders module calls so that a call whose arguments use
// another's outputs comes after it (calls in a cycle keep file order).
func callOrder(calls []*hclsyntax.Block) []*hclsyntax.Block {
	deps := map[*hclsyntax.Block]map[string]bool{}
	for _, c := range calls {
		d := map[string]bool{}
		for _, a := range c.Body.Attributes {
			for _, t := range a.Expr.Variables() {
				if t.RootName() == "module" {
					if name, ok := attrName(t, 1); ok && name != c.Labels[0] {
						d[name] = true
					}
				}
			}
		}
		deps[c] = d
	}
	var out []*hclsyntax.Block
	done := map[string]bool{}
	left := slices.Clone(calls)
	for len(left) > 0 {
		progress := false
		for i := 0; i < len(left); i++ {
			c := left[i]
			ready := true
			for d := range deps[c] {
				if !done[d] && slices.ContainsFunc(left, func(o *hclsyntax.Block) bool { return o.Labels[0] == d }) {
					ready = false
					break
				}
			}
			if ready {
				out = append(out, c)
				done[c.Labels[0]] = true
				left = slices.Delete(left, i, i+1)
				i--
				progress = true
			}
		}
		if !progress {
			return append(out, left...)
		}
	}
	return out
}
