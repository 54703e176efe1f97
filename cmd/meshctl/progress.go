package main

import (
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
)

// progress wraps r in a progress bar of total bytes on w when w is a
// terminal, and returns r as it is otherwise (pipes and logs get no
// carriage returns). done finishes the bar.
func progress(w io.Writer, r io.Reader, total int64, label string) (io.Reader, func()) {
	f, ok := w.(*os.File)
	if !ok || !isTerminal(f) {
		return r, func() {}
	}
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionSetDescription(label),
		progressbar.OptionShowBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100_000_000),
		progressbar.OptionClearOnFinish(),
	)
	pr := progressbar.NewReader(r, bar)
	return &pr, func() { _ = bar.Finish() }
}
