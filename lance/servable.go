package lance

import (
	"context"
	"fmt"

	e21 "github.com/flightwal/flightwal/lance/lancepb/encodings21pb"
	ep "github.com/flightwal/flightwal/lance/lancepb/encodingspb"
)

// CheckReadable reports whether this package can read every row of the
// dataset, without reading the data: it opens every data file (its
// metadata: footer, column and page descriptions, a legacy file's page
// table) and checks each page's layout and encodings against what the
// decoders implement. The error wraps ErrUnsupported and names the data
// file, the field and the encoding (or ErrCorrupt for a malformed file);
// the layer above maps it to a FailedPrecondition status for the table.
// It reads each data file's metadata once (kept in the FileCache).
func (d *Dataset) CheckReadable(ctx context.Context) error {
	all := make([]int, len(d.fields))
	for i := range all {
		all[i] = i
	}
	for _, frag := range d.fragments {
		srcs, err := d.sources(ctx, frag, all)
		if err != nil {
			return err
		}
		for _, s := range srcs {
			if s.file == nil || s.legacy != nil {
				continue // a legacy field passed sources' type checks
			}
			if err := s.fieldErr(s.checkPages()); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkPages checks the pages of the source's columns.
func (s columnSource) checkPages() error {
	cols := []int{s.col}
	switch {
	case s.leaves != nil:
		cols = cols[:0]
		for _, l := range s.leaves {
			cols = append(cols, l.col)
		}
	case s.cols20 != nil:
		cols = cols[:0]
		for _, c := range s.cols20 {
			cols = append(cols, c)
		}
	}
	for _, ci := range cols {
		for pi := range s.file.columns[ci].pages {
			p := &s.file.columns[ci].pages[pi]
			var what string
			if p.layout != nil {
				what = unsupportedLayout(p.layout)
			} else {
				what = unsupportedArray(p.enc)
			}
			if what != "" {
				return unsupportedf("%s: column %d page %d: %s", s.file.key, ci, pi, what)
			}
		}
	}
	return nil
}

// unsupportedLayout names what a 2.1/2.2 page uses that the decoder does
// not implement, "" if nothing.
func unsupportedLayout(pl *e21.PageLayout) string {
	switch l := pl.GetLayout().(type) {
	case *e21.PageLayout_MiniBlockLayout:
		mb := l.MiniBlockLayout
		for _, e := range []*e21.CompressiveEncoding{mb.GetRepCompression(), mb.GetDefCompression(), mb.GetDictionary()} {
			if e != nil {
				if w := unsupportedBlock(e); w != "" {
					return w
				}
			}
		}
		return unsupportedMini(mb.GetValueCompression())
	case *e21.PageLayout_FullZipLayout:
		switch e := l.FullZipLayout.GetValueCompression().GetCompression().(type) {
		case *e21.CompressiveEncoding_Flat:
			if e.Flat.GetData() != nil {
				return "full-zip compressed values"
			}
		case *e21.CompressiveEncoding_FixedSizeList:
			if e.FixedSizeList.GetValues().GetFlat() == nil {
				return "full-zip fixed_size_list over " + encodingName(e.FixedSizeList.GetValues())
			}
		case *e21.CompressiveEncoding_Variable:
		default:
			return "full-zip value compression " + encodingName(l.FullZipLayout.GetValueCompression())
		}
		return ""
	case *e21.PageLayout_ConstantLayout:
		for _, e := range []*e21.CompressiveEncoding{l.ConstantLayout.GetRepCompression(), l.ConstantLayout.GetDefCompression()} {
			if e != nil {
				if w := unsupportedBlock(e); w != "" {
					return w
				}
			}
		}
		return ""
	case *e21.PageLayout_BlobLayout:
		return "blob page layout"
	}
	return "page layout not known to this reader (newer than 2.2?)"
}

// unsupportedMini checks a mini-block value compression.
func unsupportedMini(enc *e21.CompressiveEncoding) string {
	switch e := enc.GetCompression().(type) {
	case *e21.CompressiveEncoding_Flat, *e21.CompressiveEncoding_Rle, *e21.CompressiveEncoding_Constant, *e21.CompressiveEncoding_ByteStreamSplit:
		return ""
	case *e21.CompressiveEncoding_Variable:
		if e.Variable.GetValues() != nil {
			return "compressed variable-width values"
		}
		return ""
	case *e21.CompressiveEncoding_InlineBitpacking:
		if e.InlineBitpacking.GetValues() != nil {
			return "compressed bitpacked values"
		}
		return ""
	case *e21.CompressiveEncoding_FixedSizeList:
		return unsupportedMini(e.FixedSizeList.GetValues())
	case *e21.CompressiveEncoding_Fsst:
		return unsupportedMini(e.Fsst.GetValues())
	case *e21.CompressiveEncoding_General:
		return unsupportedMini(e.General.GetValues())
	}
	return "mini-block value compression " + encodingName(enc)
}

// unsupportedBlock checks a block compression (levels, dictionary items).
func unsupportedBlock(enc *e21.CompressiveEncoding) string {
	switch e := enc.GetCompression().(type) {
	case *e21.CompressiveEncoding_Flat, *e21.CompressiveEncoding_Variable, *e21.CompressiveEncoding_InlineBitpacking,
		*e21.CompressiveEncoding_Rle, *e21.CompressiveEncoding_Constant:
		return ""
	case *e21.CompressiveEncoding_OutOfLineBitpacking:
		if e.OutOfLineBitpacking.GetValues().GetFlat() == nil {
			return "out-of-line bitpacking over " + encodingName(e.OutOfLineBitpacking.GetValues())
		}
		return ""
	case *e21.CompressiveEncoding_General:
		return unsupportedBlock(e.General.GetValues())
	}
	return "block compression " + encodingName(enc)
}

// unsupportedArray names what a 2.0 page uses that the decoder does not
// implement, "" if nothing.
func unsupportedArray(enc *ep.ArrayEncoding) string {
	switch e := enc.GetArrayEncoding().(type) {
	case *ep.ArrayEncoding_Nullable:
		switch x := e.Nullable.GetNullability().(type) {
		case *ep.Nullable_NoNulls:
			return unsupportedArray(x.NoNulls.GetValues())
		case *ep.Nullable_SomeNulls:
			if w := unsupportedArray(x.SomeNulls.GetValidity()); w != "" {
				return w
			}
			return unsupportedArray(x.SomeNulls.GetValues())
		}
		return ""
	case *ep.ArrayEncoding_Flat:
		if e.Flat.GetCompression().GetScheme() != "" {
			return fmt.Sprintf("compressed flat buffer (%s)", e.Flat.GetCompression().GetScheme())
		}
		return ""
	case *ep.ArrayEncoding_FixedSizeList:
		if e.FixedSizeList.GetHasValidity() {
			return "fixed_size_list with inline validity"
		}
		return unsupportedArray(e.FixedSizeList.GetItems())
	case *ep.ArrayEncoding_Binary:
		if w := unsupportedArray(e.Binary.GetIndices()); w != "" {
			return w
		}
		return unsupportedArray(e.Binary.GetBytes())
	case *ep.ArrayEncoding_Dictionary:
		if w := unsupportedArray(e.Dictionary.GetIndices()); w != "" {
			return w
		}
		return unsupportedArray(e.Dictionary.GetItems())
	case *ep.ArrayEncoding_List:
		return unsupportedArray(e.List.GetOffsets())
	case *ep.ArrayEncoding_Struct:
		return ""
	case nil:
		return "empty array encoding"
	}
	return fmt.Sprintf("array encoding %T", enc.GetArrayEncoding())
}
