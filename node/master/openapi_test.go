package master

import (
	"io"
	"net/http"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestOpenAPIDescribesEveryCall: the reference the masters serve is a
// valid OpenAPI document (checked by kin-openapi), with every call of the
// IDL, its permission, and 64-bit integers as strings.
func TestOpenAPIDescribesEveryCall(t *testing.T) {
	s, _ := startMaster(t)
	srv := apiServer(t, s)
	resp, err := srv.Client().Get(srv.URL + "/api/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)

	doc, err := openapi3.NewLoader().LoadFromData(body)
	require.NoError(t, err)
	require.NoError(t, doc.Validate(t.Context()), "the document is not valid OpenAPI")
	for _, m := range adminMethods(t) {
		item := doc.Paths.Find(procedure(m))
		if assert.NotNil(t, item, "%s is not in the reference", m) && assert.NotNil(t, item.Post) {
			assert.Equal(t, m, item.Post.OperationID)
			assert.Contains(t, item.Post.Description, "Needs permission", m)
		}
	}
	status := doc.Components.Schemas["licmesh.v1.GetStatusResponse"]
	require.NotNil(t, status)
	assert.True(t, status.Value.Properties["term"].Value.Type.Is("string"), "uint64 is a JSON string")
	assert.True(t, status.Value.Properties["clockTampered"].Value.Type.Is("boolean"))
	create := doc.Paths.Find(procedure("CreatePool")).Post
	assert.Contains(t, create.Description, "licenses")
	assert.Contains(t, create.Description, "audit log")
}
