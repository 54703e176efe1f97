package sources

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The value conversions below accept what the three SQL drivers and JSON
// produce for the same logical value: integers as int64, []byte, string or
// json.Number; booleans as bool, 0/1 or words; times as time.Time, text or
// Unix seconds. A nil (SQL NULL, JSON null) is handled by the caller's rule.

// maxRawIDLength bounds a raw user ID before it is hashed.
const maxRawIDLength = 1024

var errNull = errors.New("is NULL")

// asText returns v as text when it is textual.
func asText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case []byte:
		return string(x), true
	case json.Number:
		return string(x), true
	}
	return "", false
}

// toInt64 converts a scalar result to an integer. Floats and decimal text
// are accepted only when they hold an integral value in range.
func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case nil:
		return 0, errNull
	case int64:
		return x, nil
	case int32:
		return int64(x), nil
	case int:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return 0, fmt.Errorf("%d overflows int64", x)
		}
		return int64(x), nil
	case uint32:
		return int64(x), nil
	case float64:
		return floatToInt(x)
	case float32:
		return floatToInt(float64(x))
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	}
	s, ok := asText(v)
	if !ok {
		return 0, fmt.Errorf("is a %T, not an integer", v)
	}
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", clip(s))
	}
	return floatToInt(f)
}

func floatToInt(f float64) (int64, error) {
	if f != math.Trunc(f) || math.IsInf(f, 0) || math.IsNaN(f) || f < math.MinInt64 || f >= math.MaxInt64 {
		return 0, fmt.Errorf("%v is not an integer", f)
	}
	return int64(f), nil
}

// toBool converts a flag; NULL is false.
func toBool(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	}
	if s, ok := asText(v); ok {
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "1", "t", "true", "y", "yes", "on":
			return true, nil
		case "0", "f", "false", "n", "no", "off", "":
			return false, nil
		}
		if n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
			return n != 0, nil
		}
		return false, fmt.Errorf("%q is not a boolean", clip(s))
	}
	n, err := toInt64(v)
	if err != nil {
		return false, fmt.Errorf("is a %T, not a boolean", v)
	}
	return n != 0, nil
}

// toRawID converts a user ID to its canonical text form before hashing.
func toRawID(v any) (string, error) {
	var s string
	switch x := v.(type) {
	case nil:
		return "", errNull
	case [16]byte: // a UUID column
		h := hex.EncodeToString(x[:])
		s = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	case int64, int32, int, uint64, uint32:
		s = fmt.Sprint(x)
	case float64:
		n, err := floatToInt(x)
		if err != nil {
			return "", fmt.Errorf("is %v, not an integer or text", x)
		}
		s = strconv.FormatInt(n, 10)
	default:
		t, ok := asText(v)
		if !ok {
			return "", fmt.Errorf("is a %T, not an integer or text", v)
		}
		s = t
	}
	switch {
	case s == "":
		return "", errors.New("is empty")
	case len(s) > maxRawIDLength:
		return "", fmt.Errorf("is %d bytes long, at most %d allowed", len(s), maxRawIDLength)
	}
	return s, nil
}

// textTimeLayouts are tried in order for times given as text. Layouts
// without a zone are read in the source's time zone.
var textTimeLayouts = []struct {
	layout string
	zoned  bool
}{
	{time.RFC3339Nano, true},
	{"2006-01-02 15:04:05.999999999Z07:00", true},
	{"2006-01-02 15:04:05.999999999 -0700 MST", true},
	{"2006-01-02 15:04:05.999999999-07", true},
	{"2006-01-02T15:04:05.999999999", false},
	{"2006-01-02 15:04:05.999999999", false},
	{"2006-01-02 15:04", false},
	{"2006-01-02", false},
}

// toTime converts a time. NULL, empty text and MySQL's zero date are the
// zero time, which callers read as "none" (a session still open).
// Integers are Unix seconds.
func toTime(v any, loc *time.Location) (time.Time, error) {
	switch x := v.(type) {
	case nil:
		return time.Time{}, nil
	case time.Time:
		return x, nil
	case int64, int32, int, float64, uint64:
		n, err := toInt64(x)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(n, 0), nil
	}
	s, ok := asText(v)
	if !ok {
		return time.Time{}, fmt.Errorf("is a %T, not a time", v)
	}
	s = strings.TrimSpace(s)
	if s == "" || strings.HasPrefix(s, "0000-00-00") {
		return time.Time{}, nil
	}
	if _, isNum := v.(json.Number); isNum {
		n, err := toInt64(v)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(n, 0), nil
	}
	for _, l := range textTimeLayouts {
		var t time.Time
		var err error
		if l.zoned {
			t, err = time.Parse(l.layout, s)
		} else {
			t, err = time.ParseInLocation(l.layout, s, loc)
		}
		if err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a time (want RFC 3339 or YYYY-MM-DD hh:mm:ss)", clip(s))
}
