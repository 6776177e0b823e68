"""The JQL subset the Jira sandbox understands: parsing into a small tree, with Jira's error texts.

Clauses: FIELD OP VALUE with =, !=, <, >, <=, >=, IN, NOT IN, IS [NOT] EMPTY|NULL; AND / OR /
NOT (also &&, ||, !) and parentheses; ORDER BY up to 7 fields ASC|DESC. Values: words, numbers,
"double" or 'single' quoted strings with the escapes \\" \\' \\\\ \\n \\t \\r \\uXXXX, lists.
Which fields exist and what their values mean is the store's business (store.py).
Anything else is a 400 with the texts real sites give (reference README §1.4, §6).
"""

from __future__ import annotations

from dataclasses import dataclass

_RESERVED = """
a an abort access add after alias all alter and any are as asc audit avg before begin between
boolean break by byte catch cf char character check checkpoint collate collation column commit
connect continue count create current date decimal declare decrement default defaults define
delete delimiter desc difference distinct divide do double drop else empty encoding end equals
escape exclusive exec execute exists explain false fetch file field first float for from
function go goto grant greater group having identified if immediate in increment index initial
inner inout input insert int integer intersect intersection into is isempty isnull join last
left less like limit lock long max min minus mode modify modulo more multiply next noaudit not
notin nowait null number object of on option or order outer output power previous prior
privileges public raise raw remainder rename resource return returns revoke right row rowid
rownum rows select session set share size sqrt start strict string subtract sum synonym table
then to trans transaction trigger true uid union unique update user validate values view when
whenever where while with"""
RESERVED_WORDS = frozenset(_RESERVED.split())
_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-:")
_ESCAPES = {'"': '"', "'": "'", "\\": "\\", "n": "\n", "t": "\t", "r": "\r", " ": " "}
MAX_ORDER_FIELDS = 7


class JqlError(ValueError):
    """A query the sandbox refuses: the message goes into errorMessages as it stands."""


@dataclass(frozen=True)
class Token:
    kind: str  # word | string | op | ( | ) | , | and | or | not | end
    text: str
    pos: int  # 1-based character


@dataclass(frozen=True)
class Value:
    text: str
    quoted: bool
    pos: int


@dataclass(frozen=True)
class Clause:
    field: str
    field_pos: int
    op: str
    values: tuple[Value, ...]  # one, a list (IN), or () for IS [NOT] EMPTY
    is_list: bool = False


@dataclass(frozen=True)
class BoolOp:
    op: str  # and | or
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node = Clause | BoolOp | Not


@dataclass(frozen=True)
class Query:
    where: Node | None
    order: tuple[tuple[str, bool], ...]  # (field, ascending)


def _where(pos: int) -> str:
    return f"(line 1, character {pos})"


def tokenize(text: str) -> list[Token]:
    out: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        pos = i + 1
        if ch.isspace():
            i += 1
        elif ch in "(),":
            out.append(Token(ch, ch, pos))
            i += 1
        elif ch in "\"'":
            value, i = _quoted(text, i)
            out.append(Token("string", value, pos))
        elif text.startswith(("!=", "<=", ">=", "!~"), i):
            out.append(Token("op", text[i:i + 2], pos))
            i += 2
        elif ch in "=<>~":
            out.append(Token("op", ch, pos))
            i += 1
        elif text.startswith(("&&", "||"), i):
            out.append(Token("and" if ch == "&" else "or", text[i:i + 2], pos))
            i += 2
        elif ch in "&|!":
            out.append(Token({"&": "and", "|": "or", "!": "not"}[ch], ch, pos))
            i += 1
        elif ch in _WORD_CHARS or ch.isalpha():
            j = i
            while j < n and (text[j] in _WORD_CHARS or text[j].isalpha()):
                j += 1
            if text[i:j].casefold() == "cf" and j < n and text[j] == "[":
                end = text.find("]", j)
                if end < 0 or not text[j + 1:end].isdigit():
                    raise JqlError(f"Error in the JQL Query: The character '[' is a reserved JQL "
                                   f"character. You must enclose it in a string or use the "
                                   f"escape '\\u005b' instead. {_where(j + 1)}")
                j = end + 1
            word = text[i:j]
            kind = {"and": "and", "or": "or", "not": "not"}.get(word.casefold(), "word")
            out.append(Token(kind, word, pos))
            i = j
        else:
            raise JqlError(f"Error in the JQL Query: The character '{ch}' is a reserved JQL "
                           f"character. You must enclose it in a string or use the escape "
                           f"'\\u{ord(ch):04x}' instead. {_where(pos)}")
    out.append(Token("end", "", n + 1))
    return out


def _quoted(text: str, start: int) -> tuple[str, int]:
    quote, i = text[start], start + 1
    chars: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == quote:
            return "".join(chars), i + 1
        if ch == "\\":
            nxt = text[i + 1:i + 2]
            if nxt == "u" and len(text) >= i + 6 and all(
                    c in "0123456789abcdefABCDEF" for c in text[i + 2:i + 6]):
                chars.append(chr(int(text[i + 2:i + 6], 16)))
                i += 6
                continue
            if nxt not in _ESCAPES:
                raise JqlError(f"Error in the JQL Query: '\\{nxt}' is an illegal JQL escape "
                               "sequence. The valid escape sequences are \\', \\\", \\t, \\n, "
                               f"\\r, \\\\, '\\ ' and \\uXXXX. {_where(i + 1)}")
            chars.append(_ESCAPES[nxt])
            i += 2
            continue
        chars.append(ch)
        i += 1
    raise JqlError(f"Error in the JQL Query: The quoted string '{text[start + 1:]}' has not been "
                   f"completed. {_where(start + 1)}")


class _Parser:
    def __init__(self, tokens: list[Token]) -> None:
        self.tokens, self.i = tokens, 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def is_word(self, *words: str) -> bool:
        return self.tok.kind in ("word", "not") and self.tok.text.casefold() in words

    def query(self) -> Query:
        where = None
        if not (self.tok.kind == "end" or self.is_word("order")):
            where = self.or_expr()
        order: list[tuple[str, bool]] = []
        if self.is_word("order"):
            self.take()
            if not self.is_word("by"):
                raise JqlError(f"Error in the JQL Query: Expecting 'by' but got "
                               f"'{self.tok.text}'. {_where(self.tok.pos)}")
            self.take()
            while True:
                tok = self.take()
                if tok.kind not in ("word", "string"):
                    raise JqlError("Error in the JQL Query: Expecting a field name but got "
                                   f"'{tok.text}'. {_where(tok.pos)}")
                ascending = True
                if self.is_word("asc", "desc"):
                    ascending = self.take().text.casefold() == "asc"
                order.append((tok.text, ascending))
                if self.tok.kind != ",":
                    break
                self.take()
            if len(order) > MAX_ORDER_FIELDS:
                raise JqlError(f"The ORDER BY clause may hold at most {MAX_ORDER_FIELDS} fields.")
        if self.tok.kind != "end":
            raise JqlError(f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got "
                           f"'{self.tok.text}'. {_where(self.tok.pos)}")
        return Query(where, tuple(order))

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.tok.kind == "or":
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else BoolOp("or", tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while self.tok.kind == "and":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else BoolOp("and", tuple(parts))

    def unary(self) -> Node:
        tok = self.tok
        if tok.kind == "not":
            self.take()
            return Not(self.unary())
        if tok.kind == "(":
            self.take()
            inner = self.or_expr()
            if self.tok.kind != ")":
                raise JqlError(f"Error in the JQL Query: Expecting ')' but got "
                               f"'{self.tok.text}'. {_where(self.tok.pos)}")
            self.take()
            return inner
        return self.clause()

    def clause(self) -> Clause:
        tok = self.take()
        if tok.kind == "end":
            raise JqlError("Error in the JQL Query: Expecting a field name before the end of "
                           "the query.")
        if tok.kind not in ("word", "string"):
            raise JqlError(f"Error in the JQL Query: Expecting a field name but got "
                           f"'{tok.text}'. {_where(tok.pos)}")
        if tok.kind == "word" and tok.text.casefold() in RESERVED_WORDS:
            raise _reserved(tok)
        op = self.operator()
        if op in ("is", "is not"):
            value = self.take()
            if value.kind != "word" or value.text.casefold() not in ("empty", "null"):
                raise JqlError("Error in the JQL Query: Expecting 'EMPTY' or 'NULL' but got "
                               f"'{value.text}'. {_where(value.pos)}")
            return Clause(tok.text, tok.pos, op, ())
        if self.tok.kind == "(":
            self.take()
            values = [self.value()]
            while self.tok.kind == ",":
                self.take()
                values.append(self.value())
            if self.tok.kind != ")":
                raise JqlError(f"Error in the JQL Query: Expecting ')' but got "
                               f"'{self.tok.text}'. {_where(self.tok.pos)}")
            self.take()
            return Clause(tok.text, tok.pos, op, tuple(values), is_list=True)
        if op in ("in", "not in"):
            raise JqlError("Error in the JQL Query: Expecting '(' but got "
                           f"'{self.tok.text}'. {_where(self.tok.pos)}")
        return Clause(tok.text, tok.pos, op, (self.value(),))

    def operator(self) -> str:
        tok = self.take()
        if tok.kind == "op":
            return tok.text
        word = tok.text.casefold()
        if tok.kind in ("word", "not") and word in ("in", "is"):
            if word == "is" and self.is_word("not"):
                self.take()
                return "is not"
            return word
        if tok.kind == "not" and self.is_word("in"):
            self.take()
            return "not in"
        shown = tok.text if tok.kind != "end" else "end of query"
        raise JqlError(f"Error in the JQL Query: Expecting operator but got '{shown}'. The valid "
                       "operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', "
                       f"'IS' and 'IS NOT'. {_where(tok.pos)}")

    def value(self) -> Value:
        tok = self.take()
        if tok.kind == "string":
            return Value(tok.text, True, tok.pos)
        if tok.kind == "word":
            if self.tok.kind == "(":
                raise JqlError(f"Unable to find JQL function '{tok.text}()'.")
            if tok.text.casefold() in RESERVED_WORDS:
                raise _reserved(tok)
            return Value(tok.text, False, tok.pos)
        if tok.kind == "end":
            raise JqlError("Error in the JQL Query: Expecting either a value, list or function "
                           "before the end of the query.")
        if tok.kind in ("and", "or", "not"):
            raise _reserved(tok)
        raise JqlError(f"Error in the JQL Query: Expecting either a value, list or function but "
                       f"got '{tok.text}'. You must surround '{tok.text}' in quotation "
                       f"marks to use it as a value. {_where(tok.pos)}")


def _reserved(tok: Token) -> JqlError:
    return JqlError(f"Error in the JQL Query: '{tok.text}' is a reserved JQL word. You must "
                    f"surround it in quotation marks to use it in a query. {_where(tok.pos)}")


def parse(text: str) -> Query:
    """The query tree of a JQL string, or JqlError with the text a real site would give."""
    return _Parser(tokenize(text)).query()
