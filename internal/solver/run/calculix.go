package run

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// parser returns the progress parser of spec: a line → percent function.
func parser(spec Spec, dir string) func(string) (float64, bool) {
	switch spec.Progress {
	case "calculix":
		return calculixProgress(filepath.Join(dir, spec.Main))
	}
	return func(string) (float64, bool) { return 0, false }
}

// calculixProgress reads the total step time of a CalculiX deck (the time
// periods of its steps; 1 for a step that gives none) and turns the solver's
// "actual total time=" lines into percent of it; "Job finished" is 100.
func calculixProgress(deck string) func(string) (float64, bool) {
	total := calculixTotalTime(deck)
	return func(line string) (float64, bool) {
		s := strings.TrimSpace(line)
		if s == "Job finished" {
			return 100, true
		}
		v, ok := strings.CutPrefix(s, "actual total time=")
		if !ok || total <= 0 {
			return 0, false
		}
		t, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return 0, false
		}
		return min(99, 100*t/total), true
	}
}

// calculixTotalTime sums the time periods of a deck's steps: the second
// field of the data line after *STATIC, *DYNAMIC, *HEAT TRANSFER, *VISCO,
// *COUPLED TEMPERATURE-DISPLACEMENT and *UNCOUPLED TEMPERATURE-DISPLACEMENT;
// 1 for a step with another procedure or no period. 0 if unreadable.
func calculixTotalTime(deck string) float64 {
	f, err := os.Open(deck)
	if err != nil {
		return 0
	}
	defer f.Close()
	var total float64
	inStep, wantData := false, false
	stepTime := 1.0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "**") {
			continue
		}
		if strings.HasPrefix(line, "*") {
			kw := strings.ToUpper(strings.TrimSpace(strings.SplitN(line[1:], ",", 2)[0]))
			wantData = false
			switch {
			case kw == "STEP":
				inStep, stepTime = true, 1
			case kw == "END STEP":
				if inStep {
					total += stepTime
				}
				inStep = false
			case inStep && (kw == "STATIC" || kw == "DYNAMIC" || kw == "HEAT TRANSFER" || kw == "VISCO" ||
				kw == "COUPLED TEMPERATURE-DISPLACEMENT" || kw == "UNCOUPLED TEMPERATURE-DISPLACEMENT"):
				wantData = true
			}
			continue
		}
		if wantData {
			wantData = false
			fields := strings.Split(line, ",")
			if len(fields) >= 2 {
				if v, err := strconv.ParseFloat(strings.TrimSpace(fields[1]), 64); err == nil && v > 0 {
					stepTime = v
				}
			}
		}
	}
	return total
}
