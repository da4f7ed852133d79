package main

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/iscsdk/iscsdk/internal/adminapi"
	"github.com/iscsdk/iscsdk/internal/wire"
)

// The compute commands (docs/compute.md): jobs, workers, solvers and
// usage. Their entries are in main.go's command list.

// jobStates are the states jobs list --state takes.
var jobStates = []string{adminapi.JobQueued, adminapi.JobRunning, adminapi.JobSucceeded, adminapi.JobFailed, adminapi.JobCanceled}

func listJobs(x *call) error {
	path := query("/jobs", "org", x.flags["org"])
	if s := strings.TrimSpace(x.flags["state"]); s != "" {
		if !slices.Contains(jobStates, s) {
			return badFlag("--state %q: want one of %s", s, strings.Join(jobStates, ", "))
		}
		path = query(path, "state", s)
	}
	limit := 100
	if v := strings.TrimSpace(x.flags["limit"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return badFlag("--limit %q is not a number from 1 to 1000", v)
		}
		limit = n
	}
	path = query(query(path, "limit", strconv.Itoa(limit)), "cursor", x.flags["cursor"])
	var js []adminapi.Job
	return x.do("GET", path, nil, &js, func() {
		if len(js) == limit { // maybe more: say how to get them
			last := js[len(js)-1]
			cmd := "jobs list"
			for _, f := range []string{"org", "state"} {
				if v := x.flags[f]; v != "" {
					cmd += " --" + f + " " + shellQuote(v)
				}
			}
			defer x.morePages(fmt.Sprintf("%s --limit %d", cmd, limit), wire.JobKey(last.Created, last.ID))
		}
		x.table("jobs", []string{"ID", "ORG", "USER", "SOLVER", "MODEL", "STATE", "ATTEMPT", "WORKER", "CREATED", "WALL"},
			rows(js, func(j adminapi.Job) []string {
				return []string{j.ID, j.OrgID, j.UserID, j.Solver.Name, shorten(j.Main, 32), j.State, strconv.Itoa(j.Attempt()),
					shorten(j.Worker(), 32), when(j.Created), seconds(j.WallSeconds)}
			}))
	})
}

// showJob prints a job's fields, one a line, then its attempts.
func (x *call) showJob(j adminapi.Job) {
	state := j.State
	if j.CancelRequested && !j.Done() {
		state += " (cancel requested)"
	}
	fields := [][2]string{
		{"ID", j.ID}, {"State", state}, {"Org", j.OrgID}, {"User", j.UserID}, {"Session", j.SessionID},
		{"Product", j.ProductID}, {"Licence", j.LicenseID},
		{"Solver", j.Solver.Name + " (" + j.Solver.Kind + ")"}, {"Model", j.Main}, {"Args", quoteCommand(j.Args)},
		{"Cores", strconv.Itoa(j.Cores)}, {"Time limit", formatDuration(j.TimeLimit)},
		{"Inputs", size(j.InputSize)}, {"Attempts", fmt.Sprintf("%d of %d", j.Attempt(), max(j.Solver.MaxAttempts, 1))},
		{"Created", when(j.Created)},
	}
	if j.State == adminapi.JobRunning {
		fields = append(fields, [2]string{"Worker", j.Worker()}, [2]string{"Lease expires", when(j.LeaseExpires)})
	}
	if j.Done() {
		fields = append(fields, [2]string{"Finished", when(j.Finished)}, [2]string{"Exit code", strconv.Itoa(j.ExitCode)})
		if j.ErrorCode != "" || j.Error != "" {
			fields = append(fields, [2]string{"Error", strings.TrimPrefix(j.ErrorCode+": "+j.Error, ": ")})
		}
		fields = append(fields, [2]string{"Wall time", seconds(j.WallSeconds) + " s"}, [2]string{"CPU time", seconds(j.CPUSeconds) + " s"},
			[2]string{"Outputs", fmt.Sprintf("%d %s, %s", j.OutputFiles, plural(j.OutputFiles, "file", "files"), size(j.OutputSize))})
	}
	tw := tabwriter.NewWriter(x.stdout, 0, 0, 2, ' ', 0)
	for _, f := range fields {
		fmt.Fprintf(tw, "%s:\t%s\n", f[0], clean(f[1]))
	}
	tw.Flush()
	if len(j.Attempts) > 0 {
		fmt.Fprintln(x.stdout)
		var as [][]string
		for i, a := range j.Attempts {
			as = append(as, []string{strconv.Itoa(i + 1), a.Worker, when(a.Started), when(a.Ended), a.Outcome})
		}
		x.table("", []string{"ATTEMPT", "WORKER", "STARTED", "ENDED", "OUTCOME"}, as)
	}
}

// seconds formats a duration in seconds with millisecond precision.
func seconds(s float64) string { return strconv.FormatFloat(s, 'f', 3, 64) }

// followEvery is how often jobs logs --follow asks for new lines.
var followEvery = time.Second

func jobLogs(x *call) error {
	follow := x.flags["follow"] != ""
	if follow && x.g.json {
		return badFlag("--follow prints lines as they come; it takes no --json")
	}
	path := "/jobs/" + url.PathEscape(x.args[0]) + "/logs"
	if !follow {
		var l adminapi.JobLogs
		return x.do("GET", path, nil, &l, func() { x.logLines(l.Lines) })
	}
	api, err := x.client()
	if err != nil {
		return err
	}
	tick := time.NewTicker(followEvery)
	defer tick.Stop()
	var prev []string
	for {
		var l adminapi.JobLogs
		if err := api.Do(x.ctx, "GET", path, nil, &l); err != nil {
			if x.ctx.Err() != nil { // Ctrl-C: stop following
				return nil
			}
			return err
		}
		x.logLines(newLines(prev, l.Lines))
		prev = l.Lines
		if l.State != adminapi.JobQueued && l.State != adminapi.JobRunning {
			fmt.Fprintf(x.stderr, "job %s %s\n", l.ID, l.State)
			return nil
		}
		select {
		case <-x.ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// newLines returns the lines of cur not seen in prev. Both are the tail
// of one growing log: the longest end of prev that begins cur is skipped.
func newLines(prev, cur []string) []string {
	for k := min(len(prev), len(cur)); k > 0; k-- {
		if slices.Equal(prev[len(prev)-k:], cur[:k]) {
			return cur[k:]
		}
	}
	return cur
}

// logLines prints solver output lines, control characters made spaces: a
// solver may print anything, and it must not reach the terminal as an
// escape sequence.
func (x *call) logLines(ls []string) {
	for _, l := range ls {
		fmt.Fprintln(x.stdout, strings.Map(func(r rune) rune {
			if unicode.IsControl(r) && r != '\t' {
				return ' '
			}
			return r
		}, l))
	}
}

var solverHeader = []string{"NAME", "KIND", "OUTPUTS", "PROGRESS", "TIME LIMIT", "MAX OUTPUT", "ATTEMPTS"}

func solverRow(s adminapi.Solver) []string {
	limit := "1h (default)"
	if s.TimeLimitSeconds > 0 {
		limit = formatDuration(time.Duration(s.TimeLimitSeconds) * time.Second)
	}
	maxOut := size(4<<30) + " (default)" // jobs.DefaultMaxOutput
	if s.MaxOutput > 0 {
		maxOut = size(s.MaxOutput)
	}
	outputs := strings.Join(s.Outputs, ",")
	if outputs == "" {
		outputs = "(all)"
	}
	return []string{s.Name, s.Kind, outputs, s.Progress, limit, maxOut, strconv.Itoa(s.MaxAttempts)}
}

// setSolver runs "solver set"; every flag is checked before the call.
func setSolver(x *call) error {
	s := adminapi.Solver{ProductID: x.flags["product"], Name: strings.TrimSpace(x.flags["name"]),
		Kind: strings.TrimSpace(x.flags["kind"]), Progress: strings.TrimSpace(x.flags["progress"])}
	if s.Kind == "" {
		s.Kind = adminapi.SolverCommand
	}
	switch s.Kind {
	case adminapi.SolverCommand, adminapi.SolverPlugin:
	default:
		return badFlag("--kind %q: want %s or %s", s.Kind, adminapi.SolverCommand, adminapi.SolverPlugin)
	}
	for _, o := range strings.Split(x.flags["outputs"], ",") {
		if o = strings.TrimSpace(o); o != "" {
			s.Outputs = append(s.Outputs, o)
		}
	}
	var err error
	if s.TimeLimitSeconds, err = flagSeconds(x, "time-limit"); err != nil {
		return err
	}
	if v := strings.TrimSpace(x.flags["max-output"]); v != "" {
		if s.MaxOutput, err = parseSize(v); err != nil || s.MaxOutput < 1 {
			return badFlag("--max-output %q is not a size such as 4GiB, 500MB or 1048576", v)
		}
	}
	if v := strings.TrimSpace(x.flags["max-attempts"]); v != "" {
		if s.MaxAttempts, err = strconv.Atoi(v); err != nil || s.MaxAttempts < 1 || s.MaxAttempts > 100 {
			return badFlag("--max-attempts %q is not a number from 1 to 100", v)
		}
	}
	var out adminapi.Solver
	path := "/products/" + url.PathEscape(s.ProductID) + "/solvers/" + url.PathEscape(s.Name)
	return x.do("PUT", path, s, &out, func() { x.table("", solverHeader, [][]string{solverRow(out)}) })
}

// quoteCommand writes words as a shell would read them back.
func quoteCommand(words []string) string {
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

// parseSize reads a byte count: a number with an optional unit, B, KB, MB,
// GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024).
func parseSize(s string) (int64, error) {
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	mult := map[string]float64{"": 1, "B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[unit]
	if mult == 0 {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, err
	}
	n := v * mult
	if n >= math.MaxInt64 || n != math.Trunc(n) {
		return 0, fmt.Errorf("%q is not a whole number of bytes", s)
	}
	return int64(n), nil
}

// showUsage runs "usage".
func showUsage(x *call) error {
	path := query("/usage", "org", x.flags["org"])
	var from, to time.Time
	var err error
	if from, err = flagTime(x, "from", time.Now(), false); err != nil {
		return err
	}
	if to, err = flagTime(x, "to", time.Now(), false); err != nil {
		return err
	}
	if !from.IsZero() && !to.IsZero() && !to.After(from) {
		return badFlag("--to %s is not after --from %s", when(to), when(from))
	}
	if !from.IsZero() {
		path = query(path, "from", from.Format(time.RFC3339))
	}
	if !to.IsZero() {
		path = query(path, "to", to.Format(time.RFC3339))
	}
	api, err := x.client()
	if err != nil {
		return err
	}
	var u adminapi.Usage
	if err := api.Do(x.ctx, "GET", path, nil, &u); err != nil {
		return err
	}
	if x.g.json { // the body of a marketplace usage push
		return x.printJSON(struct {
			Records []adminapi.UsageRecord `json:"usage_records"`
		}{u.Records})
	}
	if len(u.Records) == 0 {
		fmt.Fprintf(x.stderr, "no usage for org %s from %s to %s\n", u.OrgID, when(u.From), when(u.To))
		return nil
	}
	type total struct {
		records     int
		secs, hours float64
	}
	totals := map[string]*total{}
	var recs [][]string
	for i, r := range u.Records {
		var raw adminapi.Metered
		if i < len(u.Raw) {
			raw = u.Raw[i]
		}
		t := totals[r.InstanceID]
		if t == nil {
			t = &total{}
			totals[r.InstanceID] = t
		}
		t.records++
		t.secs += raw.SolverSeconds
		t.hours += r.UsageValue
		recs = append(recs, []string{r.MeteringSN, r.InstanceID, raw.UserID, raw.Solver, when(raw.Begin), when(raw.End),
			seconds(raw.SolverSeconds), hours(r.UsageValue)})
	}
	x.table("", []string{"METERING SN", "LICENCE", "USER", "SOLVER", "BEGIN", "END", "SECONDS", "HOURS"}, recs)
	fmt.Fprintln(x.stdout)
	ids := make([]string, 0, len(totals))
	for id := range totals {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var sums [][]string
	for _, id := range ids {
		t := totals[id]
		sums = append(sums, []string{id, strconv.Itoa(t.records), seconds(t.secs), hours(t.hours)})
	}
	x.table("", []string{"LICENCE", "RECORDS", "SECONDS", "HOURS"}, sums)
	return nil
}

// hours formats solver hours as the marketplace takes them: 4 decimals.
func hours(h float64) string { return strconv.FormatFloat(h, 'f', 4, 64) }
