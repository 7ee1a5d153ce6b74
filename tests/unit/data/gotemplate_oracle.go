// oracle: reads [{"template":..,"input":..}] on stdin, prints [{"output":..}|{"error":..}]
package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"text/template"
)

var funcs = template.FuncMap{
	"json": func(v interface{}) string {
		buf := &bytes.Buffer{}
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		enc.Encode(v)
		return strings.TrimSpace(buf.String())
	},
	"split":    strings.Split,
	"join":     strings.Join,
	"title":    strings.Title,
	"lower":    strings.ToLower,
	"upper":    strings.ToUpper,
	"pad": func(source string, prefix, suffix int) string {
		if source == "" {
			return source
		}
		return strings.Repeat(" ", prefix) + source + strings.Repeat(" ", suffix)
	},
	"truncate": func(source string, length int) string {
		if len(source) < length {
			return source
		}
		return source[:length]
	},
}

// typed models Docker's typed structs: integers as int, all-string arrays as []string,
// all-string objects as map[string]string (empty ones too).
func typed(v interface{}) interface{} {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		f, _ := x.Float64()
		return f
	case []interface{}:
		allStr := true
		for i := range x {
			x[i] = typed(x[i])
			if _, ok := x[i].(string); !ok {
				allStr = false
			}
		}
		if allStr {
			s := make([]string, len(x))
			for i := range x {
				s[i] = x[i].(string)
			}
			return s
		}
		return x
	case map[string]interface{}:
		allStr := true
		for k := range x {
			x[k] = typed(x[k])
			if _, ok := x[k].(string); !ok {
				allStr = false
			}
		}
		if allStr {
			s := map[string]string{}
			for k := range x {
				s[k] = x[k].(string)
			}
			return s
		}
		return x
	}
	return v
}

type tcase struct {
	Template string          `json:"template"`
	Input    json.RawMessage `json:"input"`
	Missing  string          `json:"missingkey"`
}

func main() {
	var cases []tcase
	if err := json.NewDecoder(os.Stdin).Decode(&cases); err != nil {
		panic(err)
	}
	out := []map[string]string{}
	for _, c := range cases {
		var v interface{}
		dec := json.NewDecoder(bytes.NewReader(c.Input))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			panic(err)
		}
		v = typed(v)
		res := map[string]string{}
		t := template.New("").Funcs(funcs)
		if c.Missing != "" {
			t = t.Option("missingkey=" + c.Missing)
		}
		t, err := t.Parse(c.Template)
		if err != nil {
			res["error"] = err.Error()
		} else {
			buf := &bytes.Buffer{}
			if err := t.Execute(buf, v); err != nil {
				res["error"] = err.Error()
				res["partial"] = buf.String()
			} else {
				res["output"] = buf.String()
			}
		}
		out = append(out, res)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	enc.Encode(out)
}
