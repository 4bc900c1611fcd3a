package dbsc

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestRegistrationHeaderValue(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Registration
		want string
	}{
		{"as in the issue", Registration{Path: "/dbsc/register", Challenge: "c1", Authorization: "a1"},
			`(ES256 RS256);path="/dbsc/register";challenge="c1";authorization="a1"`},
		{"no authorization", Registration{Path: "reg", Challenge: "cv"},
			`(ES256 RS256);path="reg";challenge="cv"`},
		{"ES256 only", Registration{Algs: []Alg{ES256}, Path: "reg", Challenge: "cv", Authorization: "ac"},
			`(ES256);path="reg";challenge="cv";authorization="ac"`},
		{"RS256 preferred", Registration{Algs: []Alg{RS256, ES256}, Path: "reg", Challenge: "cv"},
			`(RS256 ES256);path="reg";challenge="cv"`},
		{"escapes", Registration{Path: `/a"b\c`, Challenge: `"`, Authorization: `\`},
			`(ES256 RS256);path="/a\"b\\c";challenge="\"";authorization="\\"`},
		{"printable ASCII passes", Registration{Path: "/ ~!#$%&'()*+,-./:;<=>?@[]^_`{|}", Challenge: "c"},
			`(ES256 RS256);path="/ ~!#$%&'()*+,-./:;<=>?@[]^_` + "`" + `{|}";challenge="c"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.HeaderValue()
			if err != nil || got != tc.want {
				t.Fatalf("HeaderValue = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestRegistrationHeaderRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		r    Registration
	}{
		{"no path", Registration{Challenge: "c"}},
		{"no challenge", Registration{Path: "/r"}},
		{"unknown alg", Registration{Algs: []Alg{ES256, 7}, Path: "/r", Challenge: "c"}},
		{"empty alg list", Registration{Algs: []Alg{}, Path: "/r", Challenge: "c"}},
		{"newline in path", Registration{Path: "/r\n", Challenge: "c"}},
		{"CR LF injection", Registration{Path: "/r", Challenge: "c\r\nSet-Cookie: x=y"}},
		{"tab", Registration{Path: "/r", Challenge: "c", Authorization: "a\tb"}},
		{"DEL", Registration{Path: "/r\x7f", Challenge: "c"}},
		{"non-ASCII", Registration{Path: "/café", Challenge: "c"}},
		{"NUL", Registration{Path: "/r", Challenge: "c\x00"}},
		{"too long", Registration{Path: "/r", Challenge: "c", Authorization: strings.Repeat("a", MaxFieldSize)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.r.HeaderValue()
			if !errors.Is(err, ErrUnsafeString) || !errors.Is(err, ErrInvalidHeader) || got != "" {
				t.Fatalf("HeaderValue = %q, %v; want ErrUnsafeString", got, err)
			}
		})
	}
}

func TestChallengeHeaderValue(t *testing.T) {
	got, err := ChallengeHeaderValue(testChallenge, "sid")
	if want := `"` + testChallenge + `";id="sid"`; err != nil || got != want {
		t.Fatalf("ChallengeHeaderValue = %q, %v; want %q", got, err, want)
	}
	// The spec's example.
	got, err = ChallengeHeaderValue("new challenge", "my session")
	if want := `"new challenge";id="my session"`; err != nil || got != want {
		t.Fatalf("ChallengeHeaderValue = %q, %v; want %q", got, err, want)
	}
	// Read back as an item, the challenge is the string and the id a
	// parameter.
	if c, err := parseStringItem(got); err != nil || c != "new challenge" {
		t.Fatalf("read back as %q, %v", c, err)
	}
	// `"c";id="..."` is 8 bytes besides the two strings: MaxFieldSize
	// exactly is written, one byte more refused.
	if got, err := ChallengeHeaderValue("c", strings.Repeat("i", MaxFieldSize-9)); err != nil || len(got) != MaxFieldSize {
		t.Fatalf("value of MaxFieldSize: %d bytes, %v", len(got), err)
	}
	for _, bad := range [][2]string{{"", "id"}, {"c", ""}, {"c\n", "id"}, {"c", "é"}, {"c", strings.Repeat("i", MaxFieldSize)}, {"c", strings.Repeat("i", MaxFieldSize-8)}, {"c\x1f", "id"}, {"c", "i\x7f"}} {
		if got, err := ChallengeHeaderValue(bad[0], bad[1]); !errors.Is(err, ErrUnsafeString) {
			t.Errorf("ChallengeHeaderValue(%q, %q) = %q, %v; want ErrUnsafeString", bad[0], bad[1], got, err)
		}
	}
}

// TestStringRoundTrip: every printable ASCII string is written and read
// back unchanged, escapes included.
func TestStringRoundTrip(t *testing.T) {
	var all strings.Builder
	for c := byte(0x20); c <= 0x7e; c++ {
		all.WriteByte(c)
	}
	for _, s := range []string{"", `"`, `\`, `\"`, `""\\`, all.String()} {
		b, err := appendString(nil, s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseStringItem(string(b))
		if err != nil || got != s {
			t.Fatalf("%q written as %s read back as %q, %v", s, b, got, err)
		}
	}
}

func header(name string, values ...string) http.Header {
	h := http.Header{}
	for _, v := range values {
		h.Add(name, v)
	}
	return h
}

func TestReadSessionID(t *testing.T) {
	for _, tc := range []struct {
		name, value, want string
	}{
		{"bare, as Chromium sends it", "c2Vzc2lvbg_-", "c2Vzc2lvbg_-"},
		{"sf-string, as the spec writes it", `"session-id"`, "session-id"},
		{"sf-string with escapes", `"a\"b\\c d"`, `a"b\c d`},
		{"surrounding whitespace", " \tabc \t", "abc"},
		{"quoted with surrounding whitespace", ` "abc" `, "abc"},
		{"bare with punctuation", "a.b~c!d;e=f", "a.b~c!d;e=f"},
		{"parameters ignored", `"abc";x;y=1;z="q\"";w=tok/en:1;b=?0;d=-1.5;bin=:AQID:;t=@1725579055;ds=%"caf%c3%a9"`, "abc"},
		{"parameter with spaces after ;", `"abc"; x=1;  y=2`, "abc"},
		{"key with all its characters", `"abc";*a0_-.*=1`, "abc"},
		{"token with every tchar", "\"abc\";x=a!#$%&'*+-.^_`|~:/1", "abc"},
		{"sealed-looking id of 270 characters", strings.Repeat("Zm9v", 67) + "ba", strings.Repeat("Zm9v", 67) + "ba"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSessionID(header(HeaderSessionID, tc.value))
			if err != nil || got != tc.want {
				t.Fatalf("ReadSessionID(%q) = %q, %v; want %q", tc.value, got, err, tc.want)
			}
		})
	}
}

func TestReadSessionIDRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		h    http.Header
		want error
	}{
		{"missing", http.Header{}, ErrHeaderMissing},
		{"other header only", header("Sec-Session-Id", "abc"), ErrHeaderMissing},
		{"repeated", header(HeaderSessionID, "a", "b"), ErrHeaderRepeated},
		{"too large", header(HeaderSessionID, strings.Repeat("a", MaxFieldSize+1)), ErrHeaderTooLarge},
		{"too large quoted", header(HeaderSessionID, `"`+strings.Repeat("a", MaxFieldSize)+`"`), ErrHeaderTooLarge},
		{"empty", header(HeaderSessionID, ""), ErrHeaderSyntax},
		{"whitespace only", header(HeaderSessionID, " \t "), ErrHeaderSyntax},
		{"empty sf-string", header(HeaderSessionID, `""`), ErrHeaderSyntax},
		{"bare with a space", header(HeaderSessionID, "a b"), ErrHeaderSyntax},
		{"bare list", header(HeaderSessionID, "a, b"), ErrHeaderSyntax},
		{"bare non-ASCII", header(HeaderSessionID, "caf\xc3\xa9"), ErrHeaderSyntax},
		{"bare control", header(HeaderSessionID, "a\x01"), ErrHeaderSyntax},
		{"bare DEL", header(HeaderSessionID, "a\x7f"), ErrHeaderSyntax},
		{"bare with a trailing vertical tab", header(HeaderSessionID, "abc\v"), ErrHeaderSyntax},
		{"quoted with a leading form feed", header(HeaderSessionID, "\f\"abc\""), ErrHeaderSyntax},
		{"unterminated", header(HeaderSessionID, `"abc`), ErrHeaderSyntax},
		{"escape at the end", header(HeaderSessionID, `"abc\`), ErrHeaderSyntax},
		{"bad escape", header(HeaderSessionID, `"a\nb"`), ErrHeaderSyntax},
		{"control in string", header(HeaderSessionID, "\"a\x7fb\""), ErrHeaderSyntax},
		{"non-ASCII in string", header(HeaderSessionID, "\"caf\xc3\xa9\""), ErrHeaderSyntax},
		{"list of two strings", header(HeaderSessionID, `"a", "b"`), ErrHeaderSyntax},
		{"data after the string", header(HeaderSessionID, `"a" b`), ErrHeaderSyntax},
		{"list of a string and a token", header(HeaderSessionID, `"a",b`), ErrHeaderSyntax},
		{"tab after ;", header(HeaderSessionID, "\"a\";\tx=1"), ErrHeaderSyntax},
		{"upper-case key", header(HeaderSessionID, `"a";X=1`), ErrHeaderSyntax},
		{"key starting with a digit", header(HeaderSessionID, `"a";1x=1`), ErrHeaderSyntax},
		{"upper-case inside a key", header(HeaderSessionID, `"a";aB=1`), ErrHeaderSyntax},
		{"space inside a token", header(HeaderSessionID, `"a";x=to ken`), ErrHeaderSyntax},
		{"token starting with !", header(HeaderSessionID, `"a";x=!b`), ErrHeaderSyntax},
		{"empty key", header(HeaderSessionID, `"a";=1`), ErrHeaderSyntax},
		{"missing value", header(HeaderSessionID, `"a";x=`), ErrHeaderSyntax},
		{"integer of 16 digits", header(HeaderSessionID, `"a";x=1234567890123456`), ErrHeaderSyntax},
		{"decimal of 4 places", header(HeaderSessionID, `"a";x=1.2345`), ErrHeaderSyntax},
		{"decimal of 13 digits", header(HeaderSessionID, `"a";x=1234567890123.1`), ErrHeaderSyntax},
		{"decimal without places", header(HeaderSessionID, `"a";x=1.`), ErrHeaderSyntax},
		{"lone minus", header(HeaderSessionID, `"a";x=-`), ErrHeaderSyntax},
		{"decimal date", header(HeaderSessionID, `"a";x=@1.5`), ErrHeaderSyntax},
		{"bad boolean", header(HeaderSessionID, `"a";x=?2`), ErrHeaderSyntax},
		{"unterminated byte sequence", header(HeaderSessionID, `"a";x=:AQID`), ErrHeaderSyntax},
		{"bad byte sequence", header(HeaderSessionID, `"a";x=:A-B:`), ErrHeaderSyntax},
		{"display string, upper-case hex", header(HeaderSessionID, `"a";x=%"%C3%A9"`), ErrHeaderSyntax},
		{"display string, invalid UTF-8", header(HeaderSessionID, `"a";x=%"%ff"`), ErrHeaderSyntax},
		{"display string, unterminated", header(HeaderSessionID, `"a";x=%"abc`), ErrHeaderSyntax},
		{"display string, short escape", header(HeaderSessionID, `"a";x=%"%c"`), ErrHeaderSyntax},
		{"display string, escape cut at the end", header(HeaderSessionID, `"a";x=%"%c`), ErrHeaderSyntax},
		{"display string, second digit not hex", header(HeaderSessionID, `"a";x=%"%3g"`), ErrHeaderSyntax},
		{"display string, DEL", header(HeaderSessionID, "\"a\";x=%\"\x7f\""), ErrHeaderSyntax},
		{"display string, no quote", header(HeaderSessionID, `"a";x=%abc`), ErrHeaderSyntax},
		{"inner list parameter", header(HeaderSessionID, `"a";x=(1 2)`), ErrHeaderSyntax},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadSessionID(tc.h)
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrInvalidHeader) || got != "" {
				t.Fatalf("ReadSessionID = %q, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestReadProof(t *testing.T) {
	tok := readGolden(t, "es256-registration.jwt")
	for _, v := range []string{tok, `"` + tok + `"`, " " + tok} {
		got, err := ReadProof(header(HeaderResponse, v))
		if err != nil || got != tok {
			t.Fatalf("ReadProof(%.20q...) = %.20q, %v", v, got, err)
		}
		if _, err := VerifyRegistration(got); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ReadProof(http.Header{}); !errors.Is(err, ErrHeaderMissing) {
		t.Errorf("no header: %v", err)
	}
	// The limit is MaxProofSize, not MaxFieldSize: a proof may be larger.
	if got, err := ReadProof(header(HeaderResponse, strings.Repeat("a", MaxProofSize))); err != nil || len(got) != MaxProofSize {
		t.Errorf("proof of MaxProofSize: %d bytes, %v", len(got), err)
	}
	if _, err := ReadProof(header(HeaderResponse, strings.Repeat("a", MaxProofSize+1))); !errors.Is(err, ErrHeaderTooLarge) {
		t.Errorf("too large: %v", err)
	}
	if _, err := ReadProof(header(HeaderResponse, tok, tok)); !errors.Is(err, ErrHeaderRepeated) {
		t.Errorf("repeated: %v", err)
	}
}
