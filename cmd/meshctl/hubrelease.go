package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	v1 "github.com/licmesh/licmesh/mesh/wire/licmeshv1"
	"github.com/licmesh/licmesh/mesh/wire/licmeshv1/licmeshv1connect"
)

func (h *hubApp) releaseCommand() *cobra.Command {
	return group("release", "Releases of meshd and collectord: publish, list, edit notes, withdraw",
		h.releasePublishCommand(),
		h.releaseListCommand(),
		h.releaseEditCommand(),
		h.releaseWithdrawCommand(),
		h.releaseRootCommand(),
		h.releaseBundleCommand(),
	)
}

// releases builds the ReleaseService client.
func (h *hubApp) releases() (licmeshv1connect.ReleaseServiceClient, error) {
	if _, err := h.client(); err != nil {
		return nil, err
	}
	hc, err := h.httpClient(nil)
	if err != nil {
		return nil, err
	}
	return licmeshv1connect.NewReleaseServiceClient(hc, h.cfg.Addr, connect.WithInterceptors(bearer(h.key))), nil
}

func releaseColumns() []column[*v1.ReleaseInfo] {
	type r = *v1.ReleaseInfo
	return []column[r]{
		{"VERSION", func(x r) string { return x.GetVersion() }},
		{"CHANNEL", func(x r) string { return x.GetChannel() }},
		{"PUBLISHED", func(x r) string { return msTime(x.GetPublishedAtMs()) }},
		{"STATE", func(x r) string {
			switch {
			case x.GetRemovedAtMs() != 0:
				return "removed"
			case x.GetWithdrawnAtMs() != 0:
				return "withdrawn: " + x.GetWithdrawReason()
			case !x.GetDownloadable():
				return "not covered"
			}
			return "available"
		}},
		{"ARTIFACTS", func(x r) string {
			var s []string
			for _, a := range x.GetArtifacts() {
				s = append(s, a.GetComponent()+"-"+a.GetOs()+"-"+a.GetArch())
			}
			return joinComma(s)
		}},
		{"DOCS", func(x r) string { return x.GetDocUrl() }},
	}
}

func (h *hubApp) releaseListCommand() *cobra.Command {
	var out format
	var removed bool
	cmd := &cobra.Command{
		Use:   "list [--removed]",
		Short: "List releases, the latest first",
		Args:  noArgs,
		RunE: h.action(func(ctx context.Context, _ []string) error {
			rc, err := h.releases()
			if err != nil {
				return err
			}
			res, err := hubCall(ctx, h, rc.ListReleases, &v1.ListReleasesRequest{WithRemoved: removed})
			if err != nil {
				return err
			}
			return printList(h.a.stdout, out, res, releaseColumns(), res.GetReleases())
		}),
	}
	cmd.Flags().BoolVar(&removed, "removed", false, "also releases removed from the repository")
	addOutputFlag(cmd.Flags(), &out)
	return cmd
}

// readText reads a notes or changelog file (or "" for none).
func readText(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := readInput(path, 256<<10)
	if err != nil {
		return "", usagef("%v", err)
	}
	return string(b), nil
}

func (h *hubApp) releasePublishCommand() *cobra.Command {
	var version, channel, notesFile, changelogFile, docURL, videoURL, notify, template string
	cmd := &cobra.Command{
		Use:   "publish --version V ARTIFACT...",
		Short: "Publish a release: sign its artifacts into the repository and announce it",
		Long: `Upload a release's artifacts, each named <meshd|collectord>-<os>-<arch>
(e.g. meshd-linux-amd64), sign them into the release repository (TUF) and
record its notes and links. Sites see it at their next check. With --notify
LIST the release is announced by mail to that list ("global": every
customer account and the hub's release_lists.global), from --template
(release, or release_urgent).`,
		Args: cobra.MinimumNArgs(1),
		RunE: h.action(func(ctx context.Context, args []string) error {
			if version == "" {
				return usagef("--version is needed")
			}
			notes, err := readText(notesFile)
			if err != nil {
				return err
			}
			changelog, err := readText(changelogFile)
			if err != nil {
				return err
			}
			fields := map[string]string{"version": version, "channel": channel, "notes": notes, "changelog": changelog,
				"doc_url": docURL, "video_url": videoURL, "notify": notify, "template": template}
			var files []uploadFile
			for _, p := range args {
				st, err := os.Stat(p)
				if err != nil {
					return usagef("artifact %v", err)
				}
				if !st.Mode().IsRegular() {
					return usagef("artifact %s is not a regular file", p)
				}
				files = append(files, uploadFile{field: "artifact", name: filepath.Base(p), path: p, size: st.Size()})
			}
			if _, err := h.client(); err != nil {
				return err
			}
			hc, err := h.httpClient(nil)
			if err != nil {
				return err
			}
			var info v1.ReleaseInfo
			err = postMultipart(ctx, hc, h.a.stdout, strings.TrimRight(h.cfg.Addr, "/")+"/v1/releases",
				map[string]string{"Authorization": "Bearer " + h.key}, fields, files, &info)
			if err != nil {
				return err
			}
			fmt.Fprintf(h.a.stdout, "published %s on %s with %d artifacts\n", info.GetVersion(), info.GetChannel(), len(info.GetArtifacts()))
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&version, "version", "", "the release's version (semver, e.g. 1.4.0)")
	f.StringVar(&channel, "channel", "stable", "stable or beta")
	f.StringVar(&notesFile, "notes-file", "", "a file of release notes (- for stdin)")
	f.StringVar(&changelogFile, "changelog-file", "", "a file with the changelog")
	f.StringVar(&docURL, "doc-url", "", "a link to the documentation")
	f.StringVar(&videoURL, "video-url", "", "a link to a video teaser")
	f.StringVar(&notify, "notify", "", `announce to this mailing list (default "global": every customer, when the hub sends mail; "none" for no mail)`)
	f.StringVar(&template, "template", "release", "the announcement's mail template: release or release_urgent")
	return cmd
}

// uploadFile is one file part of a multipart upload.
type uploadFile struct {
	field, name, path string
	size              int64
}

// postMultipart streams fields and files to url as multipart/form-data,
// with a progress bar on a terminal, and decodes the JSON answer into
// out. A refusal's message is returned as the error.
func postMultipart(ctx context.Context, hc *http.Client, term io.Writer, url string, headers, fields map[string]string, files []uploadFile, out proto.Message) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	var total int64
	for _, f := range files {
		total += f.size
	}
	go func() {
		err := func() error {
			for k, v := range fields {
				if v == "" {
					continue
				}
				if err := mw.WriteField(k, v); err != nil {
					return err
				}
			}
			for _, f := range files {
				in, err := os.Open(f.path)
				if err != nil {
					return err
				}
				w, err := mw.CreateFormFile(f.field, f.name)
				if err == nil {
					_, err = io.Copy(w, in)
				}
				in.Close()
				if err != nil {
					return err
				}
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	body, done := progress(term, pr, total, "uploading")
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	done()
	if err != nil {
		return fmt.Errorf("upload to %s: %w", url, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if err != nil {
		return fmt.Errorf("upload to %s: %w", url, err)
	}
	if res.StatusCode/100 != 2 {
		var e struct{ Code, Message string }
		if jerr := json.Unmarshal(b, &e); jerr != nil || e.Message == "" {
			return fmt.Errorf("upload refused: %s", res.Status)
		}
		return errors.New(e.Message)
	}
	return protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, out)
}

func (h *hubApp) releaseEditCommand() *cobra.Command {
	var notesFile, changelogFile, docURL, videoURL, channel string
	cmd := &cobra.Command{
		Use:   "edit VERSION [--notes-file F] [--changelog-file F] [--doc-url U] [--video-url U] [--channel C]",
		Short: "Change a release's notes, links or channel (only what is given)",
		Args:  oneArg("version"),
		RunE: h.action(func(ctx context.Context, args []string) error {
			rc, err := h.releases()
			if err != nil {
				return err
			}
			req := &v1.UpdateReleaseRequest{Version: args[0]}
			if notesFile != "" {
				t, err := readText(notesFile)
				if err != nil {
					return err
				}
				req.Notes = &t
			}
			if changelogFile != "" {
				t, err := readText(changelogFile)
				if err != nil {
					return err
				}
				req.Changelog = &t
			}
			if docURL != "" {
				req.DocUrl = &docURL
			}
			if videoURL != "" {
				req.VideoUrl = &videoURL
			}
			if channel != "" {
				req.Channel = &channel
			}
			res, err := hubCall(ctx, h, rc.UpdateRelease, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(h.a.stdout, "release %s updated\n", res.GetRelease().GetVersion())
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&notesFile, "notes-file", "", "a file of release notes")
	f.StringVar(&changelogFile, "changelog-file", "", "a file with the changelog")
	f.StringVar(&docURL, "doc-url", "", "a link to the documentation")
	f.StringVar(&videoURL, "video-url", "", "a link to a video teaser")
	f.StringVar(&channel, "channel", "", "move it to stable or beta")
	return cmd
}

func (h *hubApp) releaseWithdrawCommand() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "withdraw VERSION --reason TEXT",
		Short: "Withdraw a bad release: sites running it go back to the one before",
		Args:  oneArg("version"),
		RunE: h.action(func(ctx context.Context, args []string) error {
			rc, err := h.releases()
			if err != nil {
				return err
			}
			res, err := hubCall(ctx, h, rc.WithdrawRelease, &v1.WithdrawReleaseRequest{Version: args[0], Reason: reason})
			if err != nil {
				return err
			}
			fmt.Fprintf(h.a.stdout, "release %s withdrawn\n", res.GetRelease().GetVersion())
			return nil
		}),
	}
	cmd.Flags().StringVar(&reason, "reason", "", "why (shown to sites and customers)")
	return cmd
}

func (h *hubApp) releaseRootCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "root [-f FILE]",
		Short: "Write the release repository's root metadata: the trust anchor masters are configured with",
		Args:  noArgs,
		RunE: h.action(func(ctx context.Context, _ []string) error {
			rc, err := h.releases()
			if err != nil {
				return err
			}
			res, err := hubCall(ctx, h, rc.GetReleaseRoot, &v1.GetReleaseRootRequest{})
			if err != nil {
				return err
			}
			if file == "" || file == "-" {
				_, err = h.a.stdout.Write(res.GetRoot())
				return err
			}
			return os.WriteFile(file, res.GetRoot(), 0o644)
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "write to this file (default stdout)")
	return cmd
}

func (h *hubApp) releaseBundleCommand() *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "bundle VERSION -f FILE",
		Short: "Download a release as an offline bundle, for a site with no internet (meshctl update upload)",
		Args:  oneArg("version"),
		RunE: h.action(func(ctx context.Context, args []string) error {
			if file == "" {
				return usagef("-f FILE is needed")
			}
			if _, err := h.client(); err != nil {
				return err
			}
			hc, err := h.httpClient(nil)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Minute)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(h.cfg.Addr, "/")+"/v1/releases/bundle/"+args[0], nil)
			if err != nil {
				return err
			}
			req.Header.Set("Authorization", "Bearer "+h.key)
			res, err := hc.Do(req)
			if err != nil {
				return fmt.Errorf("download from %s: %w", h.cfg.Addr, err)
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				b, _ := io.ReadAll(io.LimitReader(res.Body, 8<<10))
				var e struct{ Message string }
				if json.Unmarshal(b, &e) == nil && e.Message != "" {
					return errors.New(e.Message)
				}
				return fmt.Errorf("download refused: %s", res.Status)
			}
			tmp := file + ".part"
			out, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err != nil {
				return err
			}
			body, done := progress(h.a.stdout, res.Body, res.ContentLength, "downloading")
			_, err = io.Copy(out, body)
			done()
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				os.Remove(tmp)
				return fmt.Errorf("download: %w", err)
			}
			return os.Rename(tmp, file)
		}),
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "where to write the bundle")
	return cmd
}
