package dbsc

import "unicode/utf8"

// Just enough of RFC 9651 (Structured Field Values) for DBSC: writing
// sf-strings, and reading one Item that is an sf-string with parameters.
// The parameters of what we read are ignored (the spec says they SHOULD
// be) but must still be well-formed, so that a value is either read the
// way any RFC 9651 parser would read it, or refused.

// appendString appends s as an sf-string (RFC 9651, 4.1.6): only printable
// ASCII, with DQUOTE and backslash escaped. Anything else cannot be an
// sf-string at all; Chromium's parser drops the whole header then, so it
// is refused here instead of written.
func appendString(b []byte, s string) ([]byte, error) {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return nil, ErrUnsafeString
		}
		if c == '"' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, '"'), nil
}

// sfParser reads an sf-item; i is the offset of the next byte.
type sfParser struct {
	s string
	i int
}

// more reports whether input is left; peek returns the next byte, or 0.
func (p *sfParser) more() bool { return p.i < len(p.s) }

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

// parseStringItem parses s (already trimmed of surrounding whitespace) as
// an Item whose bare item is an sf-string, and returns the string.
func parseStringItem(s string) (string, error) {
	p := &sfParser{s: s}
	str, err := p.str()
	if err != nil {
		return "", err
	}
	if err := p.params(); err != nil {
		return "", err
	}
	if p.more() {
		return "", ErrHeaderSyntax
	}
	return str, nil
}

// str parses an sf-string (RFC 9651, 4.2.5).
func (p *sfParser) str() (string, error) {
	if p.peek() != '"' {
		return "", ErrHeaderSyntax
	}
	p.i++
	out := make([]byte, 0, len(p.s)-p.i)
	for p.more() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			return string(out), nil
		case c == '\\':
			if n := p.peek(); n != '"' && n != '\\' {
				return "", ErrHeaderSyntax
			}
			out = append(out, p.s[p.i])
			p.i++
		case c < 0x20 || c > 0x7e:
			return "", ErrHeaderSyntax
		default:
			out = append(out, c)
		}
	}
	return "", ErrHeaderSyntax // no closing quote
}

// params parses parameters (RFC 9651, 4.2.3.2) and discards them.
func (p *sfParser) params() error {
	for p.peek() == ';' {
		p.i++
		for p.peek() == ' ' {
			p.i++
		}
		if err := p.key(); err != nil {
			return err
		}
		if p.peek() != '=' {
			continue // a parameter without value is Boolean true
		}
		p.i++
		if err := p.bareItem(); err != nil {
			return err
		}
	}
	return nil
}

// key parses a parameter key (RFC 9651, 4.2.3.3).
func (p *sfParser) key() error {
	if c := p.peek(); !isLCAlpha(c) && c != '*' {
		return ErrHeaderSyntax
	}
	for p.more() && isKeyChar(p.s[p.i]) {
		p.i++
	}
	return nil
}

// bareItem parses any bare item (RFC 9651, 4.2.3.1) and discards it.
func (p *sfParser) bareItem() error {
	c := p.peek()
	switch {
	case c == '-' || isDigit(c):
		return p.number(true)
	case c == '"':
		_, err := p.str()
		return err
	case c == '*' || isAlpha(c):
		p.token()
		return nil
	case c == ':':
		return p.byteSeq()
	case c == '?':
		return p.boolean()
	case c == '@':
		p.i++
		return p.number(false)
	case c == '%':
		return p.displayString()
	}
	return ErrHeaderSyntax
}

// number parses an sf-integer, or an sf-decimal if decimals is set
// (RFC 9651, 4.2.4): at most 15 digits, or 12 and 1 to 3 decimals.
func (p *sfParser) number(decimals bool) error {
	if p.peek() == '-' {
		p.i++
	}
	intDigits := p.digits()
	if intDigits == 0 || intDigits > 15 {
		return ErrHeaderSyntax
	}
	if !decimals || p.peek() != '.' {
		return nil
	}
	p.i++
	if frac := p.digits(); intDigits > 12 || frac == 0 || frac > 3 {
		return ErrHeaderSyntax
	}
	return nil
}

// digits consumes decimal digits and returns how many.
func (p *sfParser) digits() int {
	start := p.i
	for p.more() && isDigit(p.s[p.i]) {
		p.i++
	}
	return p.i - start
}

// token consumes an sf-token (RFC 9651, 4.2.6) whose first byte was checked.
func (p *sfParser) token() {
	p.i++
	for p.more() && (isTChar(p.s[p.i]) || p.s[p.i] == ':' || p.s[p.i] == '/') {
		p.i++
	}
}

// byteSeq parses an sf-binary (RFC 9651, 4.2.7): base64 between colons.
func (p *sfParser) byteSeq() error {
	p.i++
	for p.more() {
		c := p.s[p.i]
		p.i++
		if c == ':' {
			return nil
		}
		if !isAlpha(c) && !isDigit(c) && c != '+' && c != '/' && c != '=' {
			return ErrHeaderSyntax
		}
	}
	return ErrHeaderSyntax
}

// boolean parses an sf-boolean (RFC 9651, 4.2.8).
func (p *sfParser) boolean() error {
	p.i++
	if c := p.peek(); c != '0' && c != '1' {
		return ErrHeaderSyntax
	}
	p.i++
	return nil
}

// displayString parses an sf-displaystring (RFC 9651, 4.2.10): %"..." with
// lowercase %xx escapes, decoding to valid UTF-8.
func (p *sfParser) displayString() error {
	p.i++
	if p.peek() != '"' {
		return ErrHeaderSyntax
	}
	p.i++
	var out []byte
	for p.more() {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '"':
			if !utf8.Valid(out) {
				return ErrHeaderSyntax
			}
			return nil
		case c == '%':
			b, ok := p.pctByte()
			if !ok {
				return ErrHeaderSyntax
			}
			out = append(out, b)
		case c < 0x20 || c > 0x7e:
			return ErrHeaderSyntax
		default:
			out = append(out, c)
		}
	}
	return ErrHeaderSyntax
}

// pctByte reads the two lowercase hex digits after a '%'.
func (p *sfParser) pctByte() (byte, bool) {
	if p.i+2 > len(p.s) {
		return 0, false
	}
	hi, ok1 := lowerHex(p.s[p.i])
	lo, ok2 := lowerHex(p.s[p.i+1])
	p.i += 2
	return hi<<4 | lo, ok1 && ok2
}

func lowerHex(c byte) (byte, bool) {
	switch {
	case isDigit(c):
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func isDigit(c byte) bool   { return '0' <= c && c <= '9' }
func isLCAlpha(c byte) bool { return 'a' <= c && c <= 'z' }
func isAlpha(c byte) bool   { return isLCAlpha(c) || 'A' <= c && c <= 'Z' }

// isKeyChar reports whether c may follow the first byte of a key.
func isKeyChar(c byte) bool {
	return isLCAlpha(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
}

// isTChar reports whether c is a tchar (RFC 9110, 5.6.2).
func isTChar(c byte) bool {
	if isAlpha(c) || isDigit(c) {
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
