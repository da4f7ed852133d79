// Package adminapitest checks, in the service packages' tests, that an
// admin API answer says what the store record it maps says: the same JSON,
// less the keys the API never shows (a hash).
package adminapitest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

// Filled returns a T with every exported field set to a value that is not
// its zero (strings name their field, numbers are 7, times and durations
// fixed, slices hold one element, pointers point to a filled value), so a
// field a mapping forgets shows in its JSON.
func Filled[T any]() T {
	var v T
	fill(reflect.ValueOf(&v).Elem(), "")
	return v
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

func fill(v reflect.Value, name string) {
	switch {
	case v.Type() == timeType:
		v.Set(reflect.ValueOf(time.Date(2026, 12, 5, 15, 4, 5, 6e6, time.UTC)))
		return
	case v.Type() == durationType:
		v.SetInt(int64(90 * time.Second))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(name + "-value")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(7.5)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), name)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fill(k, name+"-key")
		fill(e, name)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), name)
		v.Set(p)
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				fill(v.Field(i), f.Name)
			}
		}
	}
}

// SameJSON fails t unless answer's JSON is record's, less the keys
// hidden (at the top level) and with those keys absent from answer.
func SameJSON(t *testing.T, record, answer any, hidden ...string) {
	t.Helper()
	r, a := object(t, record), object(t, answer)
	for _, k := range hidden {
		if _, ok := a[k]; ok {
			t.Errorf("%T shows %q", answer, k)
		}
		delete(r, k)
	}
	for k := range r {
		if _, ok := a[k]; !ok {
			t.Errorf("%T lacks %q (%s in %T)", answer, k, r[k], record)
		} else if !slices.Equal(r[k], a[k]) {
			t.Errorf("%T: %q is %s, %T says %s", answer, k, a[k], record, r[k])
		}
	}
	for k := range a {
		if _, ok := r[k]; !ok {
			t.Errorf("%T shows %q, which %T has not", answer, k, record)
		}
	}
}

func object(t *testing.T, v any) map[string]json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%T is not a JSON object: %s", v, b)
	}
	return m
}
