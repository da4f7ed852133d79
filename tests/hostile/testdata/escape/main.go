// Command escape is a hostile solver for the sandbox tests: it tries to
// reach outside its job directory as the model file tells it, and says for
// each attempt "blocked" or "LEAKED" (on standard output and in out.txt).
// The model holds one attempt a line: "read PATH", "write PATH",
// "connect HOST:PORT" or "procs" (how many processes it sees).
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Println("usage: escape MODEL")
		os.Exit(2)
	}
	model, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Println("model:", err)
		os.Exit(1)
	}
	out, err := os.Create("out.txt")
	if err != nil {
		fmt.Println("out.txt:", err)
		os.Exit(1)
	}
	defer out.Close()
	say := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		fmt.Println(line)
		fmt.Fprintln(out, line)
	}
	for _, kv := range os.Environ() {
		if k, v, _ := strings.Cut(kv, "="); strings.Contains(k, "TOKEN") || strings.HasPrefix(k, "ISCD_") || strings.HasPrefix(v, "is") && strings.Count(v, "_") >= 2 {
			say("LEAKED env %s", k)
		}
	}
	sc := bufio.NewScanner(model)
	for sc.Scan() {
		verb, arg, _ := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		switch verb {
		case "read":
			if b, err := os.ReadFile(arg); err != nil {
				say("blocked read %s: %v", arg, err)
			} else {
				say("LEAKED read %s: %q", arg, b[:min(len(b), 64)])
			}
		case "write":
			if err := os.WriteFile(arg, []byte("escaped\n"), 0o644); err != nil {
				say("blocked write %s: %v", arg, err)
			} else {
				say("LEAKED write %s", arg)
			}
		case "connect":
			if c, err := net.DialTimeout("tcp", arg, 2*time.Second); err != nil {
				say("blocked connect %s: %v", arg, err)
			} else {
				c.Write([]byte("escaped\n"))
				c.Close()
				say("LEAKED connect %s", arg)
			}
		case "procs":
			pids, _ := filepath.Glob("/proc/[0-9]*")
			say("procs %d", len(pids))
		}
	}
}
