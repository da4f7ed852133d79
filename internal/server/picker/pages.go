package picker

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
)

// style is the pages' only style sheet, inline; the CSP allows it by hash
// and allows nothing else: no script, no image, no font, no frame.
const style = `
:root{color-scheme:light dark;--line:#c8ccd2;--muted:#5b6470;--accent:#0b5cad;--bg2:#f3f5f8}
@media (prefers-color-scheme:dark){:root{--line:#3a4049;--muted:#a3adb9;--accent:#7db4ff;--bg2:#1d2228}}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:64rem;padding:1rem 1.25rem 3rem}
h1{font-size:1.35rem;margin:.25rem 0 .75rem}
a{color:var(--accent)}
a:focus,button:focus,input:focus{outline:3px solid var(--accent);outline-offset:2px}
nav ol{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;padding:0;margin:0 0 1rem}
nav li+li::before{content:"/";color:var(--muted);margin-right:.25rem}
table{border-collapse:collapse;width:100%}
caption{text-align:left;color:var(--muted);padding:.25rem 0}
th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid var(--line);vertical-align:middle}
thead th{background:var(--bg2)}
th{font-weight:600}
.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:var(--muted)}
.locked{color:#b3261e}
form.row{display:flex;gap:.4rem;margin:0}
button{font:inherit;padding:.3rem .75rem;border:1px solid var(--line);border-radius:6px;background:var(--bg2);color:inherit;cursor:pointer}
button.primary{background:var(--accent);border-color:var(--accent);color:#fff}
button[disabled]{opacity:.5;cursor:not-allowed}
.save{margin-top:1.25rem;padding:1rem;border:1px solid var(--line);border-radius:8px;display:grid;gap:.5rem;max-width:40rem}
.save input{font:inherit;padding:.4rem .5rem;border:1px solid var(--line);border-radius:6px;width:100%}
.actions{display:flex;gap:.5rem;margin-top:1rem}
.error{border-left:4px solid #b3261e;padding:.5rem .75rem;background:var(--bg2)}
.hint{font-size:.9em;color:var(--muted);margin:0}
nav.pages{display:flex;flex-wrap:wrap;gap:1rem;align-items:baseline;margin-top:.75rem}
nav.pages p{margin:0;color:var(--muted)}
`

// csp is the pages' Content-Security-Policy.
var csp = func() string {
	sum := sha256.Sum256([]byte(style))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; " +
		"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}()

type crumb struct {
	Name, Href string
	Current    bool
}

type folderRow struct{ Name, Href string }

type fileRow struct {
	Name, Path    string
	Assembly      bool
	Version       int
	Size          string
	Updated       string
	UpdatedBy     string
	State         string
	LockedByOther bool
	UseName       string // save: the link that proposes this name
}

type listingData struct {
	Title    string
	Open     bool // mode open; else save
	Action   string
	Nonce    string
	Dir      string
	Name     string
	Assembly bool
	Error    string
	Expires  string
	Crumbs   []crumb
	Up       string
	Folders  []folderRow
	Files    []fileRow
	// A folder of more than one page: which entries this page shows, the
	// link to the next page (MoreCount entries) and to the first.
	Range     string
	More      string
	MoreCount int
	First     string
}

type messageData struct{ Title, Text string }

var funcs = template.FuncMap{"style": func() template.CSS { return template.CSS(style) }}

const head = `{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>{{.Title}} · iscd</title>
<style>{{style}}</style>
</head>
{{end}}`

var listingPage = template.Must(template.New("listing").Funcs(funcs).Parse(head + `{{template "head" .}}<body>
<header>
<h1>{{.Title}}</h1>
<nav aria-label="Folder path"><ol>
{{range .Crumbs}}<li>{{if .Current}}<span aria-current="page">{{.Name}}</span>{{else}}<a href="{{.Href}}">{{.Name}}</a>{{end}}</li>
{{end}}</ol></nav>
</header>
<main>
{{if .Error}}<p class="error" role="alert">{{.Error}}</p>{{end}}
<table>
<caption>{{if .Open}}Folders and files in {{.Dir}}. Open a file, or open and check it out to edit and save it back.{{else}}Folders and files in {{.Dir}}.{{end}}</caption>
<thead><tr><th scope="col">Name</th><th scope="col" class="num">Version</th><th scope="col" class="num">Size</th><th scope="col">Updated</th><th scope="col">State</th>{{if .Open}}<th scope="col">Open</th>{{end}}</tr></thead>
<tbody>
{{if .Up}}<tr><td colspan="{{if .Open}}6{{else}}5{{end}}"><a href="{{.Up}}" class="up">.. (parent folder)</a></td></tr>
{{end}}{{range .Folders}}<tr class="folder"><td colspan="{{if $.Open}}6{{else}}5{{end}}"><a href="{{.Href}}">{{.Name}}/</a></td></tr>
{{end}}{{range .Files}}<tr class="file" data-path="{{.Path}}">
<th scope="row">{{if $.Open}}{{.Name}}{{else}}<a href="{{.UseName}}" title="Use this name">{{.Name}}</a>{{end}}{{if .Assembly}} <span class="muted">(assembly)</span>{{end}}</th>
<td class="num">v{{.Version}}</td><td class="num">{{.Size}}</td><td>{{.Updated}} <span class="muted">by {{.UpdatedBy}}</span></td>
<td{{if .LockedByOther}} class="locked"{{end}}>{{.State}}</td>
{{if $.Open}}<td><form class="row" method="post" action="{{$.Action}}">
<input type="hidden" name="nonce" value="{{$.Nonce}}"><input type="hidden" name="path" value="{{.Path}}">
<button type="submit" name="action" value="open" aria-label="Open {{.Name}} read-only">Open only</button>
<button type="submit" name="action" value="checkout" class="primary" aria-label="Open and check out {{.Name}}"{{if .LockedByOther}} disabled{{end}}>Open and check out</button>
</form></td>{{end}}
</tr>
{{end}}{{if and (not .Folders) (not .Files)}}<tr><td colspan="{{if .Open}}6{{else}}5{{end}}" class="muted">This folder is empty.</td></tr>
{{end}}</tbody>
</table>
{{if .Range}}<nav class="pages" aria-label="Pages of this folder"><p>{{.Range}}</p>
{{if .First}}<a href="{{.First}}" class="first">First page</a>{{end}}
{{if .More}}<a href="{{.More}}" rel="next" class="more">Next {{.MoreCount}} entries</a>{{end}}
</nav>{{end}}
{{if not .Open}}<form class="save" method="post" action="{{.Action}}">
<input type="hidden" name="nonce" value="{{.Nonce}}"><input type="hidden" name="dir" value="{{.Dir}}">
<label for="name">{{if .Assembly}}Assembly name{{else}}File name{{end}} in {{.Dir}}</label>
<input id="name" name="name" value="{{.Name}}" required maxlength="1024" autocomplete="off" aria-describedby="name-hint" autofocus>
<p id="name-hint" class="hint">Use / to save into a new folder. Saving onto an existing name adds a new version of that file.</p>
<div><button type="submit" name="action" value="save" class="primary">Save here</button></div>
</form>{{end}}
<form class="actions" method="post" action="{{.Action}}">
<input type="hidden" name="nonce" value="{{.Nonce}}">
<button type="submit" name="action" value="cancel">Cancel</button>
</form>
<p class="hint">This link works until {{.Expires}}, for one pick.</p>
</main>
</body>
</html>
`))

var messagePage = template.Must(template.New("message").Funcs(funcs).Parse(head + `{{template "head" .}}<body>
<main>
<h1>{{.Title}}</h1>
<p>{{.Text}}</p>
</main>
</body>
</html>
`))

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, "page failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}
