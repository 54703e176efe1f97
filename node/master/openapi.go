package master

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	licmeshv1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
)

// The admin API's reference (issue 17, "Integration with IT Systems"): an
// OpenAPI 3.0 document made from the IDL itself at start, so it cannot
// drift from what the masters serve, with each call's permission from
// methodPerms. Served at /api/openapi.json on every master, without a
// token: it describes, it grants nothing.

var (
	openAPIOnce sync.Once
	openAPIDoc  []byte
)

// openAPI returns the document, made once.
func openAPI() []byte {
	openAPIOnce.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic("master: openapi: " + err.Error()) // maps of strings and slices always marshal
		}
		openAPIDoc = b
	})
	return openAPIDoc
}

type jsonObj = map[string]any

func buildOpenAPI() jsonObj {
	svc := licmeshv1.File_licmesh_v1_admin_proto.Services().ByName("AdminService")
	schemas := jsonObj{}
	paths := jsonObj{}
	for i := range svc.Methods().Len() {
		m := svc.Methods().Get(i)
		proc := "/" + string(svc.FullName()) + "/" + string(m.Name())
		addSchema(schemas, m.Input())
		addSchema(schemas, m.Output())
		var perms []string
		for _, p := range methodPerms[proc] {
			perms = append(perms, string(p))
		}
		desc := "Needs permission " + strings.Join(perms, " or ") + "."
		if !readOnly[proc] {
			desc += " Recorded in the audit log."
		}
		paths[proc] = jsonObj{"post": jsonObj{
			"operationId":           string(m.Name()),
			"summary":               string(m.Name()),
			"description":           desc,
			"tags":                  []string{"AdminService"},
			"x-licmesh-permissions": perms,
			"requestBody":           jsonObj{"required": true, "content": jsonObj{"application/json": jsonObj{"schema": ref(m.Input())}}},
			"responses": jsonObj{
				"200":     jsonObj{"description": "OK", "content": jsonObj{"application/json": jsonObj{"schema": ref(m.Output())}}},
				"default": jsonObj{"description": "A Connect error", "content": jsonObj{"application/json": jsonObj{"schema": jsonObj{"$ref": "#/components/schemas/connect.error"}}}},
			},
		}}
	}
	schemas["connect.error"] = jsonObj{"type": "object", "properties": jsonObj{
		"code":    jsonObj{"type": "string", "description": "e.g. permission_denied, invalid_argument, not_found"},
		"message": jsonObj{"type": "string"},
	}}
	return jsonObj{
		"openapi": "3.0.3",
		"info": jsonObj{
			"title":   "licmesh admin API",
			"version": "v1",
			"description": "The masters' admin API (ConnectRPC over HTTPS): POST JSON to each path with " +
				"`Authorization: Bearer <API token>`. 64-bit integers are JSON strings, as protobuf's JSON mapping writes them. " +
				"docs/accounts.md has the roles and permissions.",
		},
		"paths":      paths,
		"components": jsonObj{"schemas": schemas, "securitySchemes": jsonObj{"bearer": jsonObj{"type": "http", "scheme": "bearer"}}},
		"security":   []jsonObj{{"bearer": []string{}}},
	}
}

func ref(m protoreflect.MessageDescriptor) jsonObj {
	return jsonObj{"$ref": "#/components/schemas/" + string(m.FullName())}
}

// addSchema adds m and every message it holds to schemas.
func addSchema(schemas jsonObj, m protoreflect.MessageDescriptor) {
	name := string(m.FullName())
	if _, ok := schemas[name]; ok {
		return
	}
	props := jsonObj{}
	schemas[name] = jsonObj{"type": "object", "properties": props, "additionalProperties": false}
	for i := range m.Fields().Len() {
		f := m.Fields().Get(i)
		s := fieldSchema(schemas, f)
		if f.IsList() {
			s = jsonObj{"type": "array", "items": s}
		}
		props[f.JSONName()] = s
	}
}

func fieldSchema(schemas jsonObj, f protoreflect.FieldDescriptor) jsonObj {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return jsonObj{"type": "boolean"}
	case protoreflect.StringKind:
		return jsonObj{"type": "string"}
	case protoreflect.BytesKind:
		return jsonObj{"type": "string", "format": "byte"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return jsonObj{"type": "integer", "format": "int32"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return jsonObj{"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return jsonObj{"type": "number"}
	case protoreflect.EnumKind:
		var names []string
		for i := range f.Enum().Values().Len() {
			names = append(names, string(f.Enum().Values().Get(i).Name()))
		}
		slices.Sort(names)
		return jsonObj{"type": "string", "enum": names}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		if f.IsMap() {
			return jsonObj{"type": "object", "additionalProperties": fieldSchema(schemas, f.MapValue())}
		}
		addSchema(schemas, f.Message())
		return ref(f.Message())
	}
	return jsonObj{}
}

// serveOpenAPI answers GET /api/openapi.json.
func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Write(openAPI())
}
