package preflight

import (
	"errors"
	"strings"

	"libreflash/internal/exitcode"
	"libreflash/internal/runner"
)

// flasherCheck blocks for every programmer: nothing runs without a flasher.
var flasherCheck = definition{id: "flasher", run: checkFlasher}

func checkFlasher(s *state) Check {
	f, err := s.env.FindFlasher(s.ctx, runner.FindOptions{Explicit: s.opts.FlasherPath})
	if err != nil {
		c := Check{Status: Fail, Summary: err.Error(), Docs: docsInternal}
		var h exitcode.Hinter
		if errors.As(err, &h) {
			c.Fix = h.Hint()
		}
		var ins *runner.InsecureError
		if errors.As(err, &ins) {
			c.Detail = "Running it as root would hand root to whoever can change it."
		}
		return c
	}
	s.flasher = f
	return Check{
		Status:  Pass,
		Summary: f.Kind + " " + f.Version + " at " + f.Path,
		Detail:  "supports: " + capsText(f.Caps),
	}
}

// capsText lists the options the plan relies on, as the flasher's --help
// advertises them.
func capsText(c runner.Caps) string {
	var have, lack []string
	for _, x := range []struct {
		name string
		ok   bool
	}{
		{"--progress", c.Progress}, {"--flash-contents", c.FlashContents}, {"--ifd", c.IFD},
		{"-i/--include", c.Include}, {"-l/--layout", c.Layout},
		{"--flash-size", c.FlashSize}, {"--flash-name", c.FlashName},
	} {
		if x.ok {
			have = append(have, x.name)
		} else {
			lack = append(lack, x.name)
		}
	}
	out := strings.Join(have, ", ")
	if len(have) == 0 {
		out = "none of the optional features"
	}
	if len(lack) > 0 {
		out += "; lacks " + strings.Join(lack, ", ")
	}
	return out
}
