package run

import (
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Command is a command solver as the worker's own configuration defines
// it: the program, resolved to an absolute path when the worker starts,
// and the template of its arguments. A job names the solver and brings
// its model's file name and, when the template has {args}, arguments;
// nothing a job or the service sends becomes the program or an option.
type Command struct {
	Program string   // absolute path
	Args    []string // the template: {stem}, {main}, {cores}; {args} alone in its element
	// Network lets the solver use the machine's network (a licence
	// server); without it the solver runs in a network namespace of its
	// own with no interface but loopback.
	Network bool
	// ReadOnly are more directories the sandbox shows the solver,
	// read-only (a plugin's library).
	ReadOnly []string
}

// Presets are the solvers a worker knows by name alone (`--solver
// calculix`): the program is looked up on the worker's PATH.
var Presets = map[string]string{
	"calculix": "ccx -i {stem}",
}

// ParseCommand reads a solver's definition as a worker's configuration
// gives it: "PROGRAM ARG..." split as a shell splits words (quotes and
// backslashes; no variables or globs), or a JSON array of strings. A
// program without a slash is looked up on PATH now; the program must
// exist and be executable.
func ParseCommand(def string) (Command, error) {
	words, err := SplitWords(def)
	if err != nil {
		return Command{}, err
	}
	if len(words) == 0 || words[0] == "" {
		return Command{}, errors.New("no program")
	}
	if strings.Contains(words[0], "{") {
		return Command{}, fmt.Errorf("program %q: a placeholder cannot name the program", words[0])
	}
	for _, w := range words[1:] {
		if strings.Contains(w, "{args}") && w != "{args}" {
			return Command{}, fmt.Errorf("%q: {args} must stand alone", w)
		}
	}
	prog, err := exec.LookPath(words[0])
	if err != nil {
		return Command{}, fmt.Errorf("program %s: %w", words[0], err)
	}
	if prog, err = filepath.Abs(prog); err != nil {
		return Command{}, fmt.Errorf("program %s: %w", words[0], err)
	}
	// The real file: its directory is what a sandbox shows the solver.
	if real, err := filepath.EvalSymlinks(prog); err == nil {
		prog = real
	}
	return Command{Program: prog, Args: words[1:]}, nil
}

// String is c's definition as ParseCommand reads it.
func (c Command) String() string {
	return QuoteWords(append([]string{c.Program}, c.Args...))
}

// TakesArgs says whether c's template has {args}.
func (c Command) TakesArgs() bool {
	for _, a := range c.Args {
		if a == "{args}" {
			return true
		}
	}
	return false
}

// ErrBadArgument is a job's model name or argument that the solver
// could take for an option (it begins with '-'), or arguments for a
// solver whose template takes none.
var ErrBadArgument = errors.New("bad argument")

// CheckArgument refuses a model name or job argument that begins with
// '-': a solver reads such a word as an option.
func CheckArgument(what, s string) error {
	if strings.HasPrefix(s, "-") {
		return fmt.Errorf("%w: %s %q begins with '-' (a solver would read it as an option)", ErrBadArgument, what, s)
	}
	return nil
}

// Expand is c's command line for a job: the program, then the template
// with {stem} (main without its extension), {main}, {cores} and {args}
// (the job's arguments) filled in. A model name or argument beginning with
// '-', or arguments for a template without {args}, are refused
// (ErrBadArgument).
func (c Command) Expand(main string, args []string, cores int) ([]string, error) {
	if c.Program == "" {
		return nil, errors.New("the solver has no program")
	}
	if err := CheckArgument("model", main); err != nil {
		return nil, err
	}
	for _, a := range args {
		if err := CheckArgument("argument", a); err != nil {
			return nil, err
		}
	}
	if len(args) > 0 && !c.TakesArgs() {
		return nil, fmt.Errorf("%w: the solver takes no arguments", ErrBadArgument)
	}
	stem := strings.TrimSuffix(main, filepath.Ext(main))
	r := strings.NewReplacer("{stem}", stem, "{main}", main, "{cores}", strconv.Itoa(max(cores, 1)))
	out := []string{c.Program}
	for _, t := range c.Args {
		if t == "{args}" {
			out = append(out, args...)
			continue
		}
		out = append(out, r.Replace(t))
	}
	return out, nil
}

// SplitWords splits s as a shell splits words (single and double quotes,
// backslashes; no variables or globs), or reads it as a JSON array of
// strings when it begins with '['.
func SplitWords(s string) ([]string, error) {
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var words []string
		if err := json.Unmarshal([]byte(s), &words); err != nil {
			return nil, fmt.Errorf("not a JSON array of strings: %v", err)
		}
		return words, nil
	}
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words, inWord = append(words, w.String()), false
				w.Reset()
			}
			continue
		case c == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("a single quote is not closed")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				w.WriteByte(s[i])
			}
			if i == len(s) {
				return nil, errors.New("a double quote is not closed")
			}
		case c == '\\':
			if i+1 == len(s) {
				return nil, errors.New("a backslash ends it")
			}
			i++
			w.WriteByte(s[i])
		default:
			w.WriteByte(c)
		}
		inWord = true
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}

// QuoteWords writes words as SplitWords reads them.
func QuoteWords(words []string) string {
	out := make([]string, len(words))
	for i, w := range words {
		if w != "" && !strings.ContainsAny(w, " \t\n'\"\\") {
			out[i] = w
			continue
		}
		out[i] = "'" + strings.ReplaceAll(w, "'", `'\''`) + "'"
	}
	return strings.Join(out, " ")
}
