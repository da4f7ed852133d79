package s3store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"
)

// Config says where the chunks go and with which credentials.
type Config struct {
	Endpoint    string // host[:port] of the S3 API
	Secure      bool   // https
	Region      string // may be empty where the store does not care
	Bucket      string
	Prefix      string // prepended to every key: "" or ending in "/"
	VirtualHost bool   // bucket in the host name rather than the path

	// Credentials; never printed (see String). Empty AccessKey: anonymous.
	AccessKey, SecretKey, SessionToken string

	// Refresh: a chunk younger than this is not refreshed by Has or Put
	// (see the package comment); 0: DefaultRefresh.
	Refresh time.Duration
	// Now is the clock that times chunks; nil: time.Now. Tests set it.
	Now func() time.Time
}

// ParseURL parses the location of a chunk store:
//
//	s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=REGION[&lookup=path|dns]
//
// endpoint defaults to https://s3.amazonaws.com, and lookup to path (dns
// when the endpoint is Amazon's). Credentials do not go in the URL: see
// Credentials.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("s3store: the location is not a URL (%s)", redactURL(raw))
	}
	if u.Scheme != "s3" {
		return Config{}, fmt.Errorf("s3store: %s: want an s3:// URL", redactURL(raw))
	}
	if u.User != nil {
		return Config{}, errors.New("s3store: credentials do not go in the s3:// URL: use $AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, or a credentials file")
	}
	c := Config{Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}
	raw = "s3://" + u.Host + u.Path // for messages: the query may hold anything
	if c.Bucket == "" {
		return Config{}, fmt.Errorf("s3store: %s: no bucket", raw)
	}
	if c.Prefix != "" {
		c.Prefix += "/"
	}
	q := u.Query()
	for k := range q {
		switch k {
		case "endpoint", "region", "lookup":
		default:
			return Config{}, fmt.Errorf("s3store: %s: unknown parameter %q (want endpoint, region, lookup)", raw, k)
		}
	}
	ep := q.Get("endpoint")
	if ep == "" {
		ep = "https://s3.amazonaws.com"
	}
	e, err := url.Parse(ep)
	if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || (e.Path != "" && e.Path != "/") || e.User != nil || e.RawQuery != "" {
		return Config{}, fmt.Errorf("s3store: %s: endpoint must be http://HOST[:PORT] or https://HOST[:PORT]", raw)
	}
	c.Endpoint, c.Secure, c.Region = e.Host, e.Scheme == "https", q.Get("region")
	switch q.Get("lookup") {
	case "", "path":
		c.VirtualHost = q.Get("lookup") == "" && strings.HasSuffix(e.Hostname(), "amazonaws.com")
	case "dns":
		c.VirtualHost = true
	default:
		return Config{}, fmt.Errorf("s3store: %s: lookup must be path or dns", raw)
	}
	return c, nil
}

// Credentials fills in the credentials: from the file if one is named, else
// from $AWS_ACCESS_KEY_ID, $AWS_SECRET_ACCESS_KEY and $AWS_SESSION_TOKEN.
// The file has lines KEY=VALUE with those names (blank lines and lines
// starting with # are skipped), as an env file.
func (c *Config) Credentials(file string) error {
	get := os.Getenv
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("s3store: credentials: %w", err)
		}
		vals := map[string]string{}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				// The line may be a secret: say where, never what.
				return fmt.Errorf("s3store: credentials file %s, line %d: want KEY=VALUE", file, n)
			}
			vals[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
		if err := sc.Err(); err != nil {
			return fmt.Errorf("s3store: credentials file %s: %w", file, err)
		}
		get = func(k string) string { return vals[k] }
	}
	c.AccessKey, c.SecretKey, c.SessionToken = get("AWS_ACCESS_KEY_ID"), get("AWS_SECRET_ACCESS_KEY"), get("AWS_SESSION_TOKEN")
	if (c.AccessKey == "") != (c.SecretKey == "") {
		where := "the environment"
		if file != "" {
			where = file
		}
		return fmt.Errorf("s3store: %s has one of AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY without the other", where)
	}
	return nil
}

func (c Config) check() error {
	if c.Endpoint == "" || c.Bucket == "" {
		return errors.New("s3store: no endpoint or bucket")
	}
	if c.Prefix != "" && !strings.HasSuffix(c.Prefix, "/") {
		return fmt.Errorf("s3store: prefix %q does not end in /", c.Prefix)
	}
	return nil
}

// String returns the location as a URL, without credentials: safe to log.
func (c Config) String() string {
	scheme := "http"
	if c.Secure {
		scheme = "https"
	}
	s := "s3://" + c.Bucket + "/" + c.Prefix + "?endpoint=" + scheme + "://" + c.Endpoint
	if c.Region != "" {
		s += "&region=" + url.QueryEscape(c.Region)
	}
	return s
}

// LogValue keeps the credentials out of structured logs too.
func (c Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURL drops anything that may be a secret from a URL that failed to
// parse: the user-info part and the query.
func redactURL(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		raw = raw[:i] + "?…"
	}
	if at := strings.LastIndex(raw, "@"); at >= 0 {
		if s := strings.Index(raw, "://"); s >= 0 && s < at {
			raw = raw[:s+3] + "…@" + raw[at+1:]
		}
	}
	return raw
}
