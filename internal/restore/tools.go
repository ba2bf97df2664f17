package restore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
	"libreflash/internal/safepath"
)

// Commander runs an external tool. argv[0] is the path to execute (already
// joined to the root directory). The real one is ExecCommander; tests record
// the calls and stand in for the tools.
type Commander interface {
	Run(ctx context.Context, argv []string) (stdout []byte, err error)
}

// ExecCommander runs tools with argv only (no shell), a fixed PATH and the C
// locale, and returns *ToolError with the stderr tail when one fails.
type ExecCommander struct{}

// Run implements Commander.
func (ExecCommander) Run(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		code := -1
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return stdout.Bytes(), &ToolError{Argv: argv, Code: code, Stderr: tail(stderr.String(), 10), Err: err}
	}
	return stdout.Bytes(), nil
}

// ToolError is a bootloader or system tool that failed.
type ToolError struct {
	Argv   []string
	Code   int
	Stderr string
	Err    error
}

func (e *ToolError) Error() string {
	msg := fmt.Sprintf("%s failed", strings.Join(e.Argv, " "))
	if e.Code >= 0 {
		msg += fmt.Sprintf(" (exit status %d)", e.Code)
	} else if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += "\n" + s
	}
	return msg
}

func (e *ToolError) Unwrap() error { return e.Err }

// ExitCode implements exitcode.Coder.
func (e *ToolError) ExitCode() int { return exitcode.Error }

// Hint implements exitcode.Hinter.
func (e *ToolError) Hint() string {
	return "the change was undone; fix what the tool reports, then run the command again ('libreflash status' shows what is pending)"
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

// ToolPathError is a tool that is missing or not safe to run as root.
type ToolPathError struct {
	Tool   string
	Reason string
}

func (e *ToolPathError) Error() string { return fmt.Sprintf("%s: %s", e.Tool, e.Reason) }

// ExitCode implements exitcode.Coder: nothing was changed.
func (e *ToolPathError) ExitCode() int { return exitcode.Blocked }

// Hint implements exitcode.Hinter.
func (e *ToolPathError) Hint() string {
	return "libreflash runs system tools only from root-owned directories that no other user can write (chown root, chmod go-w)"
}

// toolDirs are where system tools live; searched in order, never $PATH.
var toolDirs = []string{"/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin"}

// findTool returns the host path of the first of names found in toolDirs
// under the root, after checking that it and every directory above it
// (inside the root) is owned by the trusted user and writable by no one
// else. A tool that exists but fails that check is an error, not skipped:
// a planted binary must not silently lose to, or win over, another one.
func (m *Manager) findTool(names ...string) (string, error) {
	for _, dir := range toolDirs {
		for _, name := range names {
			host := filepath.Join(dir, name)
			real, err := m.resolve(host)
			if err != nil {
				continue
			}
			fi, err := os.Stat(real)
			if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			if err := m.checkOwnership(real); err != nil {
				return "", &ToolPathError{Tool: host, Reason: err.Error()}
			}
			return host, nil
		}
	}
	return "", &ToolPathError{Tool: names[0], Reason: "not found in " + strings.Join(toolDirs, ", ")}
}

// hasTool says whether one of names is installed (safe or not).
func (m *Manager) hasTool(names ...string) bool {
	for _, dir := range toolDirs {
		for _, name := range names {
			if real, err := m.resolve(filepath.Join(dir, name)); err == nil {
				if fi, err := os.Stat(real); err == nil && fi.Mode().IsRegular() {
					return true
				}
			}
		}
	}
	return false
}

// resolve maps a host path to the real path under the root, following
// symlinks the way the host would (an absolute target restarts at the root),
// so /sbin -> usr/sbin and /bin/x -> /usr/bin/x work in a fake root too.
func (m *Manager) resolve(host string) (string, error) {
	root := m.Root
	if root == "" {
		root = "/"
	}
	parts := strings.Split(strings.TrimPrefix(filepath.Clean(host), "/"), "/")
	cur := root
	links := 0
	for i := 0; i < len(parts); i++ {
		p := parts[i]
		if p == "" || p == "." {
			continue
		}
		if p == ".." {
			if cur != root {
				cur = filepath.Dir(cur)
			}
			continue
		}
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			links++
			if links > 40 {
				return "", errors.New("too many symlinks")
			}
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			rest := parts[i+1:]
			if filepath.IsAbs(target) {
				cur = root
			}
			parts = append(strings.Split(strings.TrimPrefix(target, "/"), "/"), rest...)
			i = -1
			continue
		}
		cur = next
	}
	return cur, nil
}

// checkOwnership requires real and every directory from the root down to it
// to be owned by the trusted user and not group- or world-writable: the rule
// the flasher itself is found by (internal/safepath). On the real system
// that is runner.CheckOwnership itself; under a fake root the walk starts at
// the root directory, so tests can keep their roots under /tmp.
func (m *Manager) checkOwnership(real string) error {
	root := m.Root
	if root == "" {
		root = "/"
	}
	if root == "/" && m.TrustedUID == 0 {
		return runner.CheckOwnership(real)
	}
	err := safepath.Check(real, safepath.Rule{Owners: []int{m.TrustedUID}, Top: root})
	var ie *safepath.InsecureError
	if errors.As(err, &ie) {
		return fmt.Errorf("%s is %s", m.host(ie.Path), ie.Reason)
	}
	return err
}

// host turns a real path back into the host path, for messages.
func (m *Manager) host(real string) string {
	if m.Root == "" || m.Root == "/" {
		return real
	}
	rel, err := filepath.Rel(m.Root, real)
	if err != nil || strings.HasPrefix(rel, "..") {
		return real
	}
	return "/" + filepath.ToSlash(rel)
}

// run executes c, mapping the tool's host path into the root.
func (m *Manager) run(ctx context.Context, c Command) ([]byte, error) {
	real, err := m.resolve(c.Tool)
	if err != nil {
		return nil, &ToolPathError{Tool: c.Tool, Reason: "not found"}
	}
	if err := m.checkOwnership(real); err != nil {
		return nil, &ToolPathError{Tool: c.Tool, Reason: err.Error()}
	}
	out, err := m.Cmd.Run(ctx, append([]string{real}, c.Args...))
	var te *ToolError
	if errors.As(err, &te) {
		te.Argv = c.Argv() // show the host path, not the root-joined one
	} else if err != nil {
		err = &ToolError{Argv: c.Argv(), Code: -1, Err: err}
	}
	return out, err
}
