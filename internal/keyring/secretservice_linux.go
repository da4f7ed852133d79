package keyring

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/godbus/dbus/v5"
)

// The Secret Service API (freedesktop.org), spoken with godbus directly
// rather than through a keyring library: a library would unlock a locked
// collection by raising a prompt and waiting for it with no deadline, and
// a CAD program's Init must not hang on a headless machine. Here every
// call has a deadline, and anything that would prompt counts as "no
// Secret Service": the secret goes to the file instead.
const (
	ssName       = "org.freedesktop.secrets"
	ssPath       = dbus.ObjectPath("/org/freedesktop/secrets")
	ssService    = "org.freedesktop.Secret.Service"
	ssCollection = "org.freedesktop.Secret.Collection"
	ssItem       = "org.freedesktop.Secret.Item"
	noPrompt     = dbus.ObjectPath("/")
	// schema and attribute find the item; a person sees the label.
	ssSchema    = "org.iscsdk.Secret"
	ssAttribute = "path"
	// ssTimeout bounds every exchange with the service.
	ssTimeout = 2 * time.Second
)

// secret is the Secret Service's Secret struct, (oayays).
type secret struct {
	Session     dbus.ObjectPath
	Parameters  []byte
	Value       []byte
	ContentType string
}

type secretService struct {
	addr string // the session bus
}

// sessionBus is the session bus's address, or "". godbus would run
// dbus-launch to start a bus when none is named: a library must not.
func sessionBus() string {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a
	}
	p := "/run/user/" + strconv.Itoa(os.Getuid()) + "/bus"
	if fi, err := os.Stat(p); err == nil && fi.Mode()&os.ModeSocket != 0 {
		return "unix:path=" + p
	}
	return ""
}

// openSecretService returns the Secret Service if one answers on the
// session bus with an unlocked default collection, else nil.
func openSecretService() *secretService {
	addr := sessionBus()
	if addr == "" {
		return nil
	}
	ss := &secretService{addr: addr}
	err := ss.do(func(ctx context.Context, c *conn) error {
		_, err := c.collection(ctx)
		return err
	})
	if err != nil {
		return nil
	}
	return ss
}

// conn is one exchange with the service: a connection and a plain
// session. The secret crosses the session bus in clear, which only the
// user's processes reach, as with every Secret Service client that does
// not negotiate encryption.
type conn struct {
	bus     *dbus.Conn
	session dbus.ObjectPath
}

func (ss *secretService) do(f func(ctx context.Context, c *conn) error) error {
	ctx, cancel := context.WithTimeout(context.Background(), ssTimeout)
	defer cancel()
	bus, err := dbus.Connect(ss.addr, dbus.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("keyring: session bus: %w", err)
	}
	defer bus.Close()
	var owned bool
	if err := bus.BusObject().CallWithContext(ctx, "org.freedesktop.DBus.NameHasOwner", 0, ssName).Store(&owned); err != nil {
		return fmt.Errorf("keyring: session bus: %w", err)
	}
	if !owned { // not activated here: activation could start a daemon that prompts
		return errors.New("keyring: no Secret Service on the session bus")
	}
	c := &conn{bus: bus}
	var out dbus.Variant
	if err := bus.Object(ssName, ssPath).CallWithContext(ctx, ssService+".OpenSession", 0, "plain", dbus.MakeVariant("")).Store(&out, &c.session); err != nil {
		return fmt.Errorf("keyring: Secret Service: open session: %w", err)
	}
	defer bus.Object(ssName, c.session).CallWithContext(ctx, "org.freedesktop.Secret.Session.Close", 0)
	return f(ctx, c)
}

// collection is the default collection, if it is unlocked.
func (c *conn) collection(ctx context.Context) (dbus.BusObject, error) {
	var path dbus.ObjectPath
	if err := c.bus.Object(ssName, ssPath).CallWithContext(ctx, ssService+".ReadAlias", 0, "default").Store(&path); err != nil {
		return nil, fmt.Errorf("keyring: Secret Service: %w", err)
	}
	if path == noPrompt {
		return nil, errors.New("keyring: Secret Service has no default collection")
	}
	obj := c.bus.Object(ssName, path)
	var locked dbus.Variant
	if err := obj.CallWithContext(ctx, "org.freedesktop.DBus.Properties.Get", 0, ssCollection, "Locked").Store(&locked); err != nil {
		return nil, fmt.Errorf("keyring: Secret Service: %w", err)
	}
	if l, _ := locked.Value().(bool); l {
		return nil, errors.New("keyring: the Secret Service's default collection is locked")
	}
	return obj, nil
}

func attributes(path string) map[string]string {
	return map[string]string{"xdg:schema": ssSchema, ssAttribute: path}
}

// find returns the items kept for path.
func (c *conn) find(ctx context.Context, path string) ([]dbus.ObjectPath, error) {
	coll, err := c.collection(ctx)
	if err != nil {
		return nil, err
	}
	var items []dbus.ObjectPath
	if err := coll.CallWithContext(ctx, ssCollection+".SearchItems", 0, attributes(path)).Store(&items); err != nil {
		return nil, fmt.Errorf("keyring: Secret Service: search: %w", err)
	}
	return items, nil
}

func (ss *secretService) load(path string) (string, error) {
	var s string
	err := ss.do(func(ctx context.Context, c *conn) error {
		items, err := c.find(ctx, path)
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return ErrNotFound
		}
		var sec secret
		if err := c.bus.Object(ssName, items[0]).CallWithContext(ctx, ssItem+".GetSecret", 0, c.session).Store(&sec); err != nil {
			return fmt.Errorf("keyring: Secret Service: get: %w", err)
		}
		if len(sec.Value) > maxSecret {
			return fmt.Errorf("keyring: Secret Service: a secret of %d bytes", len(sec.Value))
		}
		s = string(sec.Value)
		return nil
	})
	return s, err
}

func (ss *secretService) save(path, label, value string) error {
	return ss.do(func(ctx context.Context, c *conn) error {
		coll, err := c.collection(ctx)
		if err != nil {
			return err
		}
		props := map[string]dbus.Variant{
			ssItem + ".Label":      dbus.MakeVariant(label),
			ssItem + ".Attributes": dbus.MakeVariant(attributes(path)),
		}
		sec := secret{Session: c.session, Value: []byte(value), ContentType: "text/plain; charset=utf8"}
		var item, prompt dbus.ObjectPath
		if err := coll.CallWithContext(ctx, ssCollection+".CreateItem", 0, props, sec, true).Store(&item, &prompt); err != nil {
			return fmt.Errorf("keyring: Secret Service: create: %w", err)
		}
		if prompt != noPrompt {
			c.bus.Object(ssName, prompt).CallWithContext(ctx, "org.freedesktop.Secret.Prompt.Dismiss", 0)
			return errors.New("keyring: the Secret Service wants a prompt")
		}
		return nil
	})
}

func (ss *secretService) remove(path string) error {
	return ss.do(func(ctx context.Context, c *conn) error {
		items, err := c.find(ctx, path)
		if err != nil {
			return err
		}
		for _, it := range items {
			var prompt dbus.ObjectPath
			if err := c.bus.Object(ssName, it).CallWithContext(ctx, ssItem+".Delete", 0).Store(&prompt); err != nil {
				return fmt.Errorf("keyring: Secret Service: delete: %w", err)
			}
			if prompt != noPrompt {
				c.bus.Object(ssName, prompt).CallWithContext(ctx, "org.freedesktop.Secret.Prompt.Dismiss", 0)
				return errors.New("keyring: the Secret Service wants a prompt")
			}
		}
		return nil
	})
}
