package archive

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
)

// ReleaseKey is one of Libreboot's published release signing keys.
type ReleaseKey struct {
	Fingerprint  string // upper-case hex, no spaces
	FirstRelease string
}

// ReleaseKeys are the signing-key fingerprints Libreboot publishes on its
// download page (libreboot.org/download, "GPG signing keys"), newest first.
// A signature by any other key is reported as such.
var ReleaseKeys = []ReleaseKey{
	{"8BB1F7D28CF7696DBF4F71925C654067D383B1FF", "20241206"},
	{"98CCDDF8E56047F475C044BDD0C62464FA8B4856", "20160907"},
	{"CDC9CAE32CB4B7FC84FDC804969A979505E8C5B2", "20160818"},
}

// Verification records what was checked.
type Verification struct {
	// Checksums lists the checksum files that matched ("….tar.xz.sha512").
	Checksums []string `json:"checksums"`
	// Signature: "good", or "skipped" (--no-verify-signature).
	Signature string `json:"signature"`
	// SignatureFile is the .sig that was checked.
	SignatureFile string `json:"signature_file,omitempty"`
	// Signer is the fingerprint of the key that made the signature.
	Signer string `json:"signer,omitempty"`
	// ReleaseKey: the signer is one of Libreboot's published keys
	// (ReleaseKeys); SignerSince is the first release it signed.
	ReleaseKey  bool   `json:"release_key"`
	SignerSince string `json:"signer_since,omitempty"`
}

const tipDownload = "download the archive and the files published beside it (.sha512, .sig) again, from libreboot.org or a mirror it lists"

func (r *Release) verify(raw []byte, o Options) error {
	if err := r.verifyChecksums(raw, o); err != nil {
		return err
	}
	if o.NoVerifySignature {
		r.Verified.Signature = "skipped"
		return nil
	}
	return r.verifySignature(raw, o)
}

// verifyChecksums checks every checksum file beside the archive
// (NAME.sha512, NAME.sha256): one that does not match refuses the archive.
// The release publishes them with every archive, so none at all refuses it
// too, unless the user skipped the signature check as well.
func (r *Release) verifyChecksums(raw []byte, o Options) error {
	type sumFile struct {
		ext string
		h   func() hash.Hash
	}
	var found []string
	for _, s := range []sumFile{{".sha512", sha512.New}, {".sha256", sha256.New}} {
		file := r.Path + s.ext
		b, err := readSmall(file)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return refuse(tipDownload, "cannot read the checksum file %s: %v", file, err)
		}
		want, err := sumFor(b, r.Name)
		if err != nil {
			return refuse(tipDownload, "%s: %v", file, err)
		}
		h := s.h()
		h.Write(raw)
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return refuse(tipDownload+"; a mismatch means a broken download or a changed file: do not flash it",
				"%s does not match %s (checksum %s…, the file has %s…)", r.Name, file, want[:16], got[:16])
		}
		found = append(found, r.Name+s.ext)
	}
	r.Verified.Checksums = found
	if len(found) == 0 && !o.NoVerifySignature {
		return refuse(tipDownload,
			"no checksum file beside %s (looked for %s.sha512 and %s.sha256): the release publishes one with every archive", r.Name, r.Name, r.Name)
	}
	return nil
}

// sumFor finds the archive's line in a sha512sum/sha256sum file: "HEX
// NAME" or "HEX *NAME", NAME possibly with a leading ./ or a directory.
func sumFor(b []byte, name string) (string, error) {
	var only string
	lines := 0
	for _, l := range strings.Split(strings.ReplaceAll(string(b), "\r", ""), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 {
			continue
		}
		lines++
		sum := strings.ToLower(f[0])
		if _, err := hex.DecodeString(sum); err != nil || (len(sum) != 128 && len(sum) != 64) {
			return "", fmt.Errorf("not a checksum file (line %d)", lines)
		}
		if len(f) == 1 {
			only = sum
			continue
		}
		file := strings.TrimPrefix(f[1], "*")
		if i := strings.LastIndex(file, "/"); i >= 0 {
			file = file[i+1:]
		}
		if file == name {
			return sum, nil
		}
		only = sum
	}
	if lines == 1 && only != "" {
		return only, nil // a single bare sum, or a renamed download
	}
	return "", fmt.Errorf("no checksum for %s in it", name)
}

func (r *Release) verifySignature(raw []byte, o Options) error {
	sigFile := r.Path + ".sig"
	skip := "\nto flash without checking the signature (not recommended), add --no-verify-signature"
	sig, err := readSmall(sigFile)
	if errors.Is(err, os.ErrNotExist) {
		for _, alt := range []string{r.Path + ".asc"} {
			if sig, err = readSmall(alt); err == nil {
				sigFile = alt
				break
			}
		}
	}
	if err != nil {
		return refuse("download "+r.Name+".sig from the same place as the archive"+skip,
			"no signature for %s: %s is missing (%v)", r.Name, sigFile, trimPathErr(err))
	}
	r.Verified.SignatureFile = sigFile
	if o.Keyring == "" {
		return refuse(keyTip()+skip, "no key to check the signature of %s with: give --keyring FILE", r.Name)
	}
	kb, err := readSmall(o.Keyring)
	if err != nil {
		return refuse(keyTip(), "cannot read the keyring %s: %v", o.Keyring, trimPathErr(err))
	}
	keys, err := readKeyring(kb)
	if err != nil {
		return refuse(keyTip(), "%s is not an OpenPGP public key: %v", o.Keyring, err)
	}
	check := openpgp.CheckDetachedSignature
	if bytes.HasPrefix(bytes.TrimSpace(sig), []byte("-----BEGIN")) {
		check = openpgp.CheckArmoredDetachedSignature
	}
	signer, err := check(keys, bytes.NewReader(raw), bytes.NewReader(sig), nil)
	if err != nil {
		what := "the signature does not match the archive: it was changed after signing, or the download is broken"
		if errors.Is(err, pgperrors.ErrUnknownIssuer) {
			what = "it was not made by a key in " + o.Keyring
		}
		return refuse(tipDownload+"; do not flash it",
			"bad signature on %s (checked %s with the keys in %s): %s", r.Name, sigFile, o.Keyring, what)
	}
	r.Verified.Signature = "good"
	if signer != nil && signer.PrimaryKey != nil {
		fp := strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint))
		r.Verified.Signer = fp
		for _, k := range ReleaseKeys {
			if k.Fingerprint == fp {
				r.Verified.ReleaseKey, r.Verified.SignerSince = true, k.FirstRelease
			}
		}
	}
	return nil
}

func readKeyring(b []byte) (openpgp.EntityList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		return openpgp.ReadArmoredKeyRing(bytes.NewReader(b))
	}
	return openpgp.ReadKeyRing(bytes.NewReader(b))
}

func keyTip() string {
	return "get Libreboot's release signing key (fingerprint " + spaced(ReleaseKeys[0].Fingerprint) +
		", linked from libreboot.org/download), check its fingerprint, and pass it with --keyring FILE " +
		"(gpg --export FINGERPRINT > libreboot.gpg makes one from your GnuPG keyring)"
}

// spaced writes a fingerprint in groups of four, as the download page does.
func spaced(fp string) string {
	var b strings.Builder
	for i := 0; i < len(fp); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fp[i:min(i+4, len(fp))])
	}
	return b.String()
}

// readSmall reads a side file (checksums, signature, keyring), refusing
// anything but a small regular file.
func readSmall(p string) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", p)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSmall*16+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxSmall*16 {
		return nil, fmt.Errorf("%s is too large for a checksum, signature or key file", p)
	}
	return b, nil
}

func trimPathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
