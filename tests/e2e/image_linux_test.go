package e2e

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// imageRef names the BusyBox image in both engines.
const imageRef = "localhost/sbx-e2e/busybox:latest"

// Media types of the OCI image spec (image-spec/media-types.md).
const (
	mediaIndex    = "application/vnd.oci.image.index.v1+json"
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
)

var image struct {
	once sync.Once
	path string
	err  error
}

// busyboxImage returns an OCI image archive of the BusyBox root, written
// once per test binary.
func busyboxImage(t *testing.T) string {
	t.Helper()
	image.once.Do(func() {
		var root string
		if root, image.err = busyboxRoot(); image.err == nil {
			image.path = filepath.Join(env.base, "busybox-oci.tar")
			image.err = writeOCIArchive(image.path, root, imageRef)
		}
	})
	if image.err != nil {
		t.Fatalf("BusyBox image: %v", image.err)
	}
	return image.path
}

// busyboxRoot is the repository's bin/rootfs when `make rootfs` made it,
// or else one tests/busybox-rootfs.sh assembles in env.base.
func busyboxRoot() (string, error) {
	root := filepath.Join(env.repo, "bin", "rootfs")
	if _, err := os.Stat(filepath.Join(root, "bin", "busybox")); err == nil {
		return root, nil
	}
	root = filepath.Join(env.base, "rootfs")
	script := filepath.Join(env.repo, "tests", "busybox-rootfs.sh")
	if out, err := exec.Command("sh", script, root).CombinedOutput(); err != nil {
		return "", fmt.Errorf("%s %s: %v\n%s", script, root, err, out)
	}
	return root, nil
}

// descriptor is an OCI content descriptor (image-spec/descriptor.md).
type descriptor struct {
	MediaType   string            `json:"mediaType"`
	Digest      string            `json:"digest"`
	Size        int64             `json:"size"`
	Annotations map[string]string `json:"annotations,omitempty"`
	Platform    *platform         `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
}

// blob is a piece of content with its descriptor.
type blob struct {
	desc descriptor
	data []byte
}

func newBlob(mediaType string, data []byte) blob {
	sum := sha256.Sum256(data)
	return blob{
		desc: descriptor{MediaType: mediaType, Digest: "sha256:" + hex.EncodeToString(sum[:]), Size: int64(len(data))},
		data: data,
	}
}

func jsonBlob(mediaType string, v any) (blob, error) {
	b, err := json.Marshal(v)
	return newBlob(mediaType, b), err
}

// layoutFile is a file of an image layout.
type layoutFile struct {
	name string
	data []byte
}

// writeOCIArchive writes the directory root as a one-layer image named ref
// in an OCI image layout (image-spec/image-layout.md) packed in a tar file
// at path, which `ctr images import` and `podman load` both read.
func writeOCIArchive(path, root, ref string) error {
	layerData, err := tarDir(root)
	if err != nil {
		return fmt.Errorf("packing %s: %w", root, err)
	}
	layer := newBlob(mediaLayer, layerData)
	config, err := jsonBlob(mediaConfig, imageConfig(layer))
	if err != nil {
		return err
	}
	manifest, err := jsonBlob(mediaManifest, map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaManifest,
		"config":        config.desc,
		"layers":        []descriptor{layer.desc},
	})
	if err != nil {
		return err
	}
	index, err := imageIndex(manifest, ref)
	if err != nil {
		return err
	}
	files := []layoutFile{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
	}
	for _, b := range []blob{layer, config, manifest} {
		files = append(files, layoutFile{"blobs/sha256/" + strings.TrimPrefix(b.desc.Digest, "sha256:"), b.data})
	}
	return writeTar(path, files)
}

// imageConfig is the image configuration (image-spec/config.md) of a
// BusyBox image whose only layer is layer.
func imageConfig(layer blob) map[string]any {
	return map[string]any{
		"created":      time.Now().UTC().Format(time.RFC3339),
		"architecture": runtime.GOARCH,
		"os":           "linux",
		"config": map[string]any{
			"Env":        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			"Cmd":        []string{"/bin/sh"},
			"WorkingDir": "/",
		},
		// An uncompressed layer's diff ID is its digest.
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{layer.desc.Digest}},
	}
}

// imageIndex is index.json naming manifest ref twice:
// io.containerd.image.name for containerd and
// org.opencontainers.image.ref.name for podman.
func imageIndex(manifest blob, ref string) ([]byte, error) {
	top := manifest.desc
	top.Platform = &platform{Architecture: runtime.GOARCH, OS: "linux"}
	top.Annotations = map[string]string{
		"io.containerd.image.name":          ref,
		"org.opencontainers.image.ref.name": ref,
	}
	return json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     mediaIndex,
		"manifests":     []descriptor{top},
	})
}

// writeTar writes files, in directories blobs/sha256/, as a tar file.
func writeTar(path string, files []layoutFile) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755}); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: f.name, Mode: 0o644, Size: int64(len(f.data))}); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// tarDir packs the tree at root, owned by root, as a layer tar.
func tarDir(root string) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		return addFile(tw, root, p)
	})
	if err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func addFile(tw *tar.Writer, root, p string) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	hdr.Name = filepath.ToSlash(rel)
	if fi.IsDir() {
		hdr.Name += "/"
	}
	hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return nil
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(tw, f)
	return err
}
