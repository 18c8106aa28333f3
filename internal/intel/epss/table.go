package epss

import (
	"encoding/binary"
	"errors"
	"math"
	"time"
)

// The table format is the scores of one file as Scores holds them, so
// that the embedded snapshot loads without decompressing and parsing
// 313k CSV lines every process (140 ms of CPU, most of a short command
// such as 'ctem explain'): the magic line, the model version (a length
// byte and the text), the score date (Unix seconds, int64), the number of
// rows (uint32), then per row, sorted by CVE, its year (uint16), number
// (uint32), EPSS and percentile (float32 bits); little-endian. The CSV
// stays the source; TestSnapshotTable checks that the table equals it
// (and writes it with -update).
const tableMagic = "ctem-epss-table-1\n"

const tableRow = 2 + 4 + 4 + 4

// encodeTable writes s in the table format.
func encodeTable(s *Scores) []byte {
	b := make([]byte, 0, len(tableMagic)+1+len(s.ModelVersion)+8+4+len(s.rows)*tableRow)
	b = append(b, tableMagic...)
	b = append(b, byte(len(s.ModelVersion)))
	b = append(b, s.ModelVersion...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Date.Unix()))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(s.rows)))
	for _, r := range s.rows {
		b = binary.LittleEndian.AppendUint16(b, r.year)
		b = binary.LittleEndian.AppendUint32(b, r.num)
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(r.epss))
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(r.pct))
	}
	return b
}

var errTable = errors.New("epss: malformed score table")

// decodeTable reads scores in the table format, checking its shape and
// that the rows are sorted without duplicates.
func decodeTable(b []byte) (*Scores, error) {
	if len(b) < len(tableMagic)+1 || string(b[:len(tableMagic)]) != tableMagic {
		return nil, errTable
	}
	b = b[len(tableMagic):]
	n := int(b[0])
	if len(b) < 1+n+8+4 {
		return nil, errTable
	}
	s := &Scores{ModelVersion: string(b[1 : 1+n])}
	b = b[1+n:]
	s.Date = time.Unix(int64(binary.LittleEndian.Uint64(b)), 0).UTC()
	count := int(binary.LittleEndian.Uint32(b[8:]))
	b = b[12:]
	if count == 0 || len(b) != count*tableRow {
		return nil, errTable
	}
	s.rows = make([]row, count)
	for i := range s.rows {
		r := b[i*tableRow : (i+1)*tableRow]
		s.rows[i] = row{year: binary.LittleEndian.Uint16(r), num: binary.LittleEndian.Uint32(r[2:]),
			epss: math.Float32frombits(binary.LittleEndian.Uint32(r[6:])), pct: math.Float32frombits(binary.LittleEndian.Uint32(r[10:]))}
		if i > 0 && s.rows[i-1].key() >= s.rows[i].key() {
			return nil, errTable
		}
	}
	return s, nil
}
