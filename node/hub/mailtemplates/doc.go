// Package mailtemplates holds the hub's built-in mail templates. Each mail
// kind has three: <kind>.subject.txt and <kind>.txt (text/template) and
// <kind>.html (html/template). A file of the same name in the hub's
// mail_templates_dir replaces the built-in one; the data each template
// gets is the hub's mailData (node/hub/mail_templates.go).
package mailtemplates

import (
	"embed"
	"io/fs"
)

//go:embed *.txt *.html
var files embed.FS

// FS returns the built-in templates.
func FS() fs.FS { return files }
