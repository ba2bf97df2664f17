package rom

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"
)

// lzmaHeaderLen is the classic .lzma header cbfstool writes before the
// stream: 5 property bytes (lc/lp/pb, dictionary size) and the
// uncompressed size as 8 little-endian bytes.
const lzmaHeaderLen = 13

// ReadFile returns the contents of f, decompressed, refusing anything that
// would be larger than limit bytes. The sizes in the image are checked
// against limit before anything is allocated from them, and the output is
// cut at limit+1 bytes whatever the stream says. Every decoding step yields
// output or consumes input (which is at most the image), so that bounds the
// time spent too.
func (c *CBFS) ReadFile(f File, limit int64) (data []byte, err error) {
	raw := c.Data(f)
	switch f.Compression {
	case "none":
		if f.Size > limit {
			return nil, fmt.Errorf("%d bytes, more than the %d this file may have", f.Size, limit)
		}
		return raw, nil
	case "LZMA", "LZ4":
	default:
		return nil, fmt.Errorf("compressed with an unknown method (%s)", f.Compression)
	}
	if f.RawSize > limit {
		return nil, fmt.Errorf("%s data declares %d bytes decompressed, more than the %d this file may have", f.Compression, f.RawSize, limit)
	}
	// A decoder bug on crafted input must not take the whole run down.
	defer func() {
		if p := recover(); p != nil {
			data, err = nil, fmt.Errorf("%s data is corrupt (decoder failed: %v)", f.Compression, p)
		}
	}()
	if f.Compression == "LZMA" {
		data, err = unlzma(raw, limit)
	} else {
		data, err = unlz4(raw, limit)
	}
	if err != nil {
		return nil, err
	}
	if int64(len(data)) != f.RawSize {
		return nil, fmt.Errorf("decompresses to %d bytes, not the %d its header declares", len(data), f.RawSize)
	}
	return data, nil
}

func unlzma(raw []byte, limit int64) ([]byte, error) {
	if len(raw) < lzmaHeaderLen {
		return nil, fmt.Errorf("LZMA data is truncated (%d bytes, shorter than its header)", len(raw))
	}
	// cbfstool always writes the size; the all-ones "unknown size" would
	// let the stream alone decide how much to produce.
	size := binary.LittleEndian.Uint64(raw[5:])
	if size > uint64(limit) {
		return nil, fmt.Errorf("LZMA header declares %d bytes decompressed, more than the %d this file may have", size, limit)
	}
	// The decoder's window is at most max(size, 4 KiB) once size is known,
	// so checking size bounds its allocation. DictCap refuses a header whose
	// window is out of proportion too: cbfstool asks for the file's length,
	// which LZMA rounds up to at most twice that.
	r, err := lzma.ReaderConfig{DictCap: int(max(2*limit, lzma.MinDictCap))}.NewReader(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("LZMA data is truncated or corrupt: %v", err)
	}
	return readBounded(r, "LZMA", limit)
}

func unlz4(raw []byte, limit int64) ([]byte, error) {
	// cbfstool writes an LZ4 frame (magic 0x184D2204); its block size is
	// one of four values up to 4 MiB, so the reader's buffers are bounded.
	return readBounded(lz4.NewReader(bytes.NewReader(raw)), "LZ4", limit)
}

func readBounded(r io.Reader, method string, limit int64) ([]byte, error) {
	var out bytes.Buffer
	n, err := io.Copy(&out, io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		return nil, fmt.Errorf("%s data is truncated or corrupt: %v", method, err)
	case n > limit:
		return nil, fmt.Errorf("%s data decompresses to more than %d bytes", method, limit)
	}
	return out.Bytes(), nil
}
