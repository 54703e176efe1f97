package sources

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// picks are what an http or exec source reads from its JSON document.
type picks struct {
	names   []string // scalar names, sorted
	scalars map[string]path
	users   *path
	logons  *path
}

func newPicks(scalars map[string]string, users, logons string) (picks, error) {
	p := picks{names: slices.Sorted(maps.Keys(scalars)), scalars: make(map[string]path, len(scalars))}
	for name, text := range scalars {
		pp, err := parsePath(text)
		if err != nil {
			return picks{}, err
		}
		p.scalars[name] = pp
	}
	for _, x := range []struct {
		text string
		dst  **path
	}{{users, &p.users}, {logons, &p.logons}} {
		if x.text == "" {
			continue
		}
		pp, err := parsePath(x.text)
		if err != nil {
			return picks{}, err
		}
		*x.dst = &pp
	}
	return p, nil
}

// jsonRecord is one element of a users or logons array.
type jsonRecord map[string]any

func (r jsonRecord) get(name string) (any, bool) {
	v, ok := r[name]
	return v, ok
}

// apply decodes data and fills req. section is "http" or "exec", for
// errors.
func (p picks) apply(rep *reporter, section string, data []byte, req *request) error {
	doc, err := decodeJSON(data)
	if err != nil {
		return rep.fail(section, ErrBadResult, err)
	}
	for _, name := range p.names {
		field := section + ".scalars." + name
		v, err := p.scalars[name].pick(doc)
		if err != nil {
			return rep.fail(field, ErrMissingField, err)
		}
		n, err := toInt64(v)
		switch {
		case errors.Is(err, errNull):
			return rep.failf(field, ErrBadResult, "path %q is null; want an integer", p.scalars[name].text)
		case err != nil:
			return rep.failf(field, ErrBadResult, "path %q: value %v", p.scalars[name].text, err)
		}
		req.scalars[name] = n
	}
	if p.users != nil {
		err := p.rows(rep, section, "users", doc, *p.users, req, req.addUser)
		if err != nil {
			return err
		}
	}
	if p.logons != nil {
		err := p.rows(rep, section, "logons", doc, *p.logons, req, req.addLogon)
		if err != nil {
			return err
		}
	}
	return nil
}

// rows walks the array at pp (the users or logons array, named by what).
// A null there is an empty array; an element that is not an object is a
// rejected row.
func (p picks) rows(rep *reporter, section, what string, doc any, pp path, req *request, fn func(record, int)) error {
	field := section + "." + what
	v, err := pp.pick(doc)
	if err != nil {
		return rep.fail(field, ErrMissingField, err)
	}
	if v == nil {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		return rep.failf(field, ErrBadResult, "path %q is %s; want an array of objects", pp.text, jsonKind(v))
	}
	if len(arr) > req.maxRows {
		return rep.failf(field, ErrTooManyRows, "has %d rows, more than max_rows (%d)", len(arr), req.maxRows)
	}
	for i, el := range arr {
		obj, ok := el.(map[string]any)
		if !ok {
			req.rows.reject(what, i+1, fmt.Errorf("is %s, not an object", jsonKind(el)))
			continue
		}
		fn(jsonRecord(obj), i+1)
	}
	return nil
}
