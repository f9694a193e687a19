//! A small interpreter for the Go `text/template` subset that webhook payloads use
//! (spec/notifications.md §3.5): `{{.Field.Sub}}`, `$`/`$var`, pipelines with `|`,
//! `if`/`else if`/`else`/`end`, `range` (with `$i, $v :=` and `else`), `with`, `{{- -}}`
//! trimming, comments, and the documented functions.
//!
//! Why hand-written: the only Rust crate implementing Go templates (`gtmpl`) is unmaintained,
//! and translating to a Jinja engine needs a parser for this syntax anyway. Data is a
//! `serde_json::Value`, so there is no reflection and no way to reach anything but the data.
//!
//! One deliberate difference from Go: in `Escape::Json` mode every string a `{{…}}` action
//! prints is JSON-string escaped, so a `"` or newline in an alert message can no longer break
//! the payload (the reference failed such sends with "template produced invalid JSON").

use serde_json::Value;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("template: {0}")]
pub struct TemplateError(pub String);

fn err<T>(m: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(m.into()))
}

/// How printed values are escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    None,
    /// Strings are escaped for use inside a JSON string literal.
    Json,
}

/// Output and work limits: a template cannot blow up memory or loop for ever.
const MAX_OUTPUT: usize = 1 << 20;
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipe),
    If(Vec<(Pipe, Vec<Node>)>, Vec<Node>),
    Range(Pipe, Vec<Node>, Vec<Node>),
    With(Pipe, Vec<Node>, Vec<Node>),
}

/// A pipeline, optionally declaring variables (`$x := …`, `$i, $v := …` in range).
#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd(Vec<Arg>);

#[derive(Debug, Clone)]
enum Arg {
    /// `.A.B` (empty = `.`)
    Field(Vec<String>),
    /// `$name.A.B` (`$` is the root)
    Var(String, Vec<String>),
    Func(String),
    Lit(Value),
    Sub(Pipe, Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
}

// ---------------------------------------------------------------- lexing of actions

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(Value),
    Open,
    Close(Vec<String>),
    Pipe,
    Decl,
    Comma,
}

fn lex_action(s: &str) -> Result<Vec<Tok>, TemplateError> {
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    let fields = |b: &[char], i: &mut usize| -> Vec<String> {
        let mut f = Vec::new();
        while *i < b.len() && b[*i] == '.' {
            *i += 1;
            let st = *i;
            while *i < b.len() && (b[*i].is_alphanumeric() || b[*i] == '_') {
                *i += 1;
            }
            let name: String = b[st..*i].iter().collect();
            if name.is_empty() {
                break;
            }
            f.push(name);
        }
        f
    };
    while i < b.len() {
        let c = b[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1
            }
            ')' => {
                i += 1;
                let f = fields(&b, &mut i);
                out.push(Tok::Close(f));
            }
            '|' => {
                out.push(Tok::Pipe);
                i += 1
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1
            }
            ':' if b.get(i + 1) == Some(&'=') => {
                out.push(Tok::Decl);
                i += 2
            }
            '=' => {
                out.push(Tok::Decl);
                i += 1
            }
            '.' => {
                if b.get(i + 1).is_some_and(|c| c.is_ascii_digit()) {
                    return err(format!("unexpected number {}", &s[i..]));
                }
                let f = fields(&b, &mut i);
                if f.is_empty() {
                    i += 1;
                    if i < b.len() && !b[i].is_whitespace() && !matches!(b[i], ')' | '|') {
                        return err(format!("bad character {:?} after '.'", b[i]));
                    }
                }
                out.push(Tok::Field(f));
            }
            '$' => {
                i += 1;
                let st = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                let name: String = b[st..i].iter().collect();
                let f = fields(&b, &mut i);
                out.push(Tok::Var(name, f));
            }
            '"' => {
                let mut j = i + 1;
                let mut raw = String::from("\"");
                loop {
                    let Some(&c) = b.get(j) else {
                        return err("unterminated quoted string");
                    };
                    raw.push(c);
                    j += 1;
                    if c == '\\' {
                        let Some(&n) = b.get(j) else {
                            return err("unterminated quoted string");
                        };
                        raw.push(n);
                        j += 1;
                    } else if c == '"' {
                        break;
                    } else if c == '\n' {
                        return err("newline in quoted string");
                    }
                }
                let v: String = serde_json::from_str(&raw)
                    .map_err(|_| TemplateError(format!("bad quoted string {raw}")))?;
                out.push(Tok::Lit(Value::String(v)));
                i = j;
            }
            '`' => {
                let st = i + 1;
                let Some(end) = b[st..].iter().position(|&c| c == '`') else {
                    return err("unterminated raw string");
                };
                out.push(Tok::Lit(Value::String(b[st..st + end].iter().collect())));
                i = st + end + 1;
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let st = i;
                i += 1;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == '.') {
                    i += 1;
                }
                let t: String = b[st..i].iter().collect();
                let v = if let Ok(n) = t.parse::<i64>() {
                    Value::from(n)
                } else if let Ok(f) = t.parse::<f64>() {
                    Value::from(f)
                } else {
                    return err(format!("bad number syntax: {t:?}"));
                };
                out.push(Tok::Lit(v));
            }
            c if c.is_alphabetic() || c == '_' => {
                let st = i;
                while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                    i += 1;
                }
                let w: String = b[st..i].iter().collect();
                out.push(match w.as_str() {
                    "true" => Tok::Lit(Value::Bool(true)),
                    "false" => Tok::Lit(Value::Bool(false)),
                    "nil" => Tok::Lit(Value::Null),
                    _ => Tok::Ident(w),
                });
            }
            other => return err(format!("unexpected {other:?} in action")),
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------- parsing

const FUNCS: &[&str] = &[
    "and",
    "or",
    "not",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "len",
    "index",
    "printf",
    "print",
    "println",
    "html",
    "js",
    "urlquery",
    "urlencode",
    "urlpath",
    "pathescape",
    "title",
    "upper",
    "lower",
    "json",
];

struct PipeParser<'a> {
    toks: &'a [Tok],
    i: usize,
}

impl PipeParser<'_> {
    fn pipe(&mut self, allow_decl: bool, nested: bool) -> Result<Pipe, TemplateError> {
        let mut decl = Vec::new();
        if allow_decl {
            // `$x :=` or `$i, $v :=`
            let save = self.i;
            let mut names = Vec::new();
            while let Some(Tok::Var(n, f)) = self.toks.get(self.i) {
                if !f.is_empty() {
                    break;
                }
                names.push(n.clone());
                self.i += 1;
                if self.toks.get(self.i) == Some(&Tok::Comma) {
                    self.i += 1;
                } else {
                    break;
                }
            }
            if !names.is_empty() && self.toks.get(self.i) == Some(&Tok::Decl) {
                self.i += 1;
                decl = names;
            } else {
                self.i = save;
            }
        }
        let mut cmds = Vec::new();
        loop {
            let mut args = Vec::new();
            loop {
                match self.toks.get(self.i) {
                    None => break,
                    Some(Tok::Pipe) => break,
                    Some(Tok::Close(_)) if nested => break,
                    Some(t) => {
                        self.i += 1;
                        args.push(match t.clone() {
                            Tok::Field(f) => Arg::Field(f),
                            Tok::Var(n, f) => Arg::Var(n, f),
                            Tok::Lit(v) => Arg::Lit(v),
                            Tok::Ident(n) => {
                                if !FUNCS.contains(&n.as_str()) {
                                    return err(format!("function {n:?} not defined"));
                                }
                                Arg::Func(n)
                            }
                            Tok::Open => {
                                let p = self.pipe(false, true)?;
                                match self.toks.get(self.i) {
                                    Some(Tok::Close(f)) => {
                                        self.i += 1;
                                        Arg::Sub(p, f.clone())
                                    }
                                    _ => return err("unclosed left paren"),
                                }
                            }
                            Tok::Close(_) => return err("unexpected right paren"),
                            Tok::Decl => return err("unexpected := or ="),
                            Tok::Comma => return err("unexpected comma"),
                            Tok::Pipe => unreachable!(),
                        });
                    }
                }
            }
            if args.is_empty() {
                return err("missing value for command");
            }
            if args.len() > 1 && !matches!(args[0], Arg::Func(_)) {
                return err("can't give argument to non-function");
            }
            cmds.push(Cmd(args));
            if self.toks.get(self.i) == Some(&Tok::Pipe) {
                self.i += 1;
                continue;
            }
            break;
        }
        Ok(Pipe { decl, cmds })
    }
}

fn parse_pipe(src: &str, allow_decl: bool) -> Result<Pipe, TemplateError> {
    let toks = lex_action(src)?;
    let mut p = PipeParser { toks: &toks, i: 0 };
    let pipe = p.pipe(allow_decl, false)?;
    if p.i != toks.len() {
        return err(format!("unexpected token in {src:?}"));
    }
    Ok(pipe)
}

/// Splits the source into text and action pieces, applying `{{-`/`-}}` trimming.
fn split(src: &str) -> Result<Vec<(bool, String)>, TemplateError> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let trim_left = after.starts_with("- ") || after.starts_with("-\t") || after == "-";
        if trim_left {
            text = text.trim_end();
        }
        out.push((false, text.to_string()));
        let inner_start = if trim_left { 1 } else { 0 };
        let body = &after[inner_start..];
        let Some(end) = find_close(body) else {
            return err("unclosed action (missing }})");
        };
        let mut inner = &body[..end];
        trim_next = false;
        if inner.ends_with(" -") || inner.ends_with("\t-") {
            inner = &inner[..inner.len() - 1];
            trim_next = true;
        }
        out.push((true, inner.trim().to_string()));
        rest = &body[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    out.push((false, text.to_string()));
    Ok(out)
}

/// The `}}` that closes an action, skipping over quoted strings.
fn find_close(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < b.len() {
        match quote {
            Some(q) => {
                if b[i] == b'\\' && q == b'"' {
                    i += 1;
                } else if b[i] == q {
                    quote = None;
                }
            }
            None => {
                if b[i] == b'"' || b[i] == b'`' {
                    quote = Some(b[i]);
                } else if b[i] == b'}' && b.get(i + 1) == Some(&b'}') {
                    return Some(i);
                }
            }
        }
        i += 1;
    }
    None
}

enum Closer {
    Eof,
    End,
    Else(Option<String>),
}

fn parse_list(
    items: &[(bool, String)],
    pos: &mut usize,
    depth: usize,
) -> Result<(Vec<Node>, Closer), TemplateError> {
    if depth > MAX_DEPTH {
        return err("template nested too deeply");
    }
    let mut nodes = Vec::new();
    while *pos < items.len() {
        let (is_action, s) = &items[*pos];
        *pos += 1;
        if !is_action {
            if !s.is_empty() {
                nodes.push(Node::Text(s.clone()));
            }
            continue;
        }
        if s.starts_with("/*") {
            if !s.ends_with("*/") {
                return err("unclosed comment");
            }
            continue;
        }
        let (kw, rest) = match s.split_once(char::is_whitespace) {
            Some((k, r)) => (k, r.trim()),
            None => (s.as_str(), ""),
        };
        match kw {
            "end" => {
                if !rest.is_empty() {
                    return err("unexpected content after end");
                }
                return Ok((nodes, Closer::End));
            }
            "else" => {
                let chain = if rest.is_empty() {
                    None
                } else if let Some(c) = rest.strip_prefix("if ") {
                    Some(c.trim().to_string())
                } else {
                    return err(format!("unexpected {rest:?} after else"));
                };
                return Ok((nodes, Closer::Else(chain)));
            }
            "if" => {
                let mut branches = vec![];
                let mut cond = parse_pipe(rest, true)?;
                let otherwise;
                loop {
                    let (body, end) = parse_list(items, pos, depth + 1)?;
                    branches.push((cond, body));
                    match end {
                        Closer::End => {
                            otherwise = vec![];
                            break;
                        }
                        Closer::Else(Some(c)) => cond = parse_pipe(&c, true)?,
                        Closer::Else(None) => {
                            let (body, end) = parse_list(items, pos, depth + 1)?;
                            if !matches!(end, Closer::End) {
                                return err("expected end after else");
                            }
                            otherwise = body;
                            break;
                        }
                        Closer::Eof => return err("unexpected EOF: if without end"),
                    }
                }
                nodes.push(Node::If(branches, otherwise));
            }
            "range" | "with" => {
                if rest.is_empty() {
                    return err(format!("missing value for {kw}"));
                }
                let p = parse_pipe(rest, kw == "range")?;
                if p.decl.len() > 2 {
                    return err("too many declarations in range");
                }
                let (body, end) = parse_list(items, pos, depth + 1)?;
                let otherwise = match end {
                    Closer::End => vec![],
                    Closer::Else(None) => {
                        let (b, e) = parse_list(items, pos, depth + 1)?;
                        if !matches!(e, Closer::End) {
                            return err(format!("expected end after {kw} else"));
                        }
                        b
                    }
                    Closer::Else(Some(_)) => return err(format!("else if inside {kw}")),
                    Closer::Eof => return err(format!("unexpected EOF: {kw} without end")),
                };
                nodes.push(if kw == "range" {
                    Node::Range(p, body, otherwise)
                } else {
                    Node::With(p, body, otherwise)
                });
            }
            "define" | "template" | "block" | "break" | "continue" => {
                return err(format!("{{{{{kw}}}}} is not supported"));
            }
            _ => {
                if s.is_empty() {
                    return err("missing value for command");
                }
                nodes.push(Node::Action(parse_pipe(s, true)?));
            }
        }
    }
    Ok((nodes, Closer::Eof))
}

impl Template {
    pub fn parse(src: &str) -> Result<Template, TemplateError> {
        let items = split(src)?;
        let mut pos = 0;
        let (nodes, end) = parse_list(&items, &mut pos, 0)?;
        match end {
            Closer::Eof => Ok(Template { nodes }),
            Closer::End => err("unexpected {{end}}"),
            Closer::Else(_) => err("unexpected {{else}}"),
        }
    }

    /// Renders against `data`. Errors name what went wrong (missing field, bad call, …).
    pub fn render(&self, data: &Value, escape: Escape) -> Result<String, TemplateError> {
        let mut ex = Exec {
            root: data,
            vars: vec![("".into(), data.clone())],
            out: String::new(),
            escape,
        };
        ex.list(&self.nodes, data)?;
        Ok(ex.out)
    }
}

/// Parses and renders in one go.
pub fn render(src: &str, data: &Value, escape: Escape) -> Result<String, TemplateError> {
    Template::parse(src)?.render(data, escape)
}

// ---------------------------------------------------------------- execution

struct Exec<'a> {
    root: &'a Value,
    vars: Vec<(String, Value)>,
    out: String,
    escape: Escape,
}

pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Go's default printing of a value.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::Null => "<no value>".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.to_string()
            } else if let Some(u) = n.as_u64() {
                u.to_string()
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                if f.fract() == 0.0 && f.abs() < 1e21 {
                    format!("{f:.0}")
                } else {
                    f.to_string()
                }
            }
        }
        Value::Bool(b) => b.to_string(),
        Value::Array(a) => format!("[{}]", a.iter().map(to_text).collect::<Vec<_>>().join(" ")),
        Value::Object(o) => format!(
            "map[{}]",
            o.iter()
                .map(|(k, v)| format!("{k}:{}", to_text(v)))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

fn json_escape(s: &str) -> String {
    let q = serde_json::to_string(s).unwrap_or_default();
    q[1..q.len() - 1].to_string()
}

impl Exec<'_> {
    fn list(&mut self, nodes: &[Node], dot: &Value) -> Result<(), TemplateError> {
        for n in nodes {
            if self.out.len() > MAX_OUTPUT {
                return err("output too large");
            }
            match n {
                Node::Text(t) => self.out.push_str(t),
                Node::Action(p) => {
                    let v = self.pipe(p, dot)?;
                    if p.decl.is_empty() {
                        let t = match &v {
                            Value::Null => String::new(),
                            other => to_text(other),
                        };
                        match self.escape {
                            Escape::None => self.out.push_str(&t),
                            Escape::Json => self.out.push_str(&json_escape(&t)),
                        }
                    }
                }
                Node::If(branches, otherwise) => {
                    let mark = self.vars.len();
                    let mut done = false;
                    for (cond, body) in branches {
                        if truthy(&self.pipe(cond, dot)?) {
                            self.list(body, dot)?;
                            done = true;
                            break;
                        }
                    }
                    if !done {
                        self.list(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::With(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let v = self.pipe(p, dot)?;
                    if truthy(&v) {
                        self.list(body, &v)?;
                    } else {
                        self.list(otherwise, dot)?;
                    }
                    self.vars.truncate(mark);
                }
                Node::Range(p, body, otherwise) => {
                    let mark = self.vars.len();
                    let plain = Pipe {
                        decl: vec![],
                        cmds: p.cmds.clone(),
                    };
                    let v = self.pipe(&plain, dot)?;
                    let items: Vec<(Value, Value)> = match &v {
                        Value::Array(a) => a
                            .iter()
                            .enumerate()
                            .map(|(i, x)| (Value::from(i), x.clone()))
                            .collect(),
                        Value::Object(o) => o
                            .iter()
                            .map(|(k, x)| (Value::from(k.clone()), x.clone()))
                            .collect(),
                        Value::Null => vec![],
                        Value::Number(n) => {
                            let k = n.as_i64().unwrap_or(0).clamp(0, 10_000);
                            (0..k).map(|i| (Value::from(i), Value::from(i))).collect()
                        }
                        other => {
                            return err(format!("range can't iterate over {}", to_text(other)));
                        }
                    };
                    if items.is_empty() {
                        self.list(otherwise, dot)?;
                    }
                    for (k, x) in items {
                        let inner = self.vars.len();
                        match p.decl.as_slice() {
                            [v] => self.vars.push((v.clone(), x.clone())),
                            [i, v] => {
                                self.vars.push((i.clone(), k));
                                self.vars.push((v.clone(), x.clone()));
                            }
                            _ => {}
                        }
                        self.list(body, &x)?;
                        self.vars.truncate(inner);
                    }
                    self.vars.truncate(mark);
                }
            }
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &Value) -> Result<Value, TemplateError> {
        let mut prev: Option<Value> = None;
        for c in &p.cmds {
            prev = Some(self.cmd(c, dot, prev)?);
        }
        let v = prev.unwrap_or(Value::Null);
        if let Some(name) = p.decl.last() {
            // `$x := v` (or `$x = v`: assignment to an existing variable)
            if p.decl.len() == 1
                && let Some(slot) = self.vars.iter_mut().rev().find(|(n, _)| n == name)
            {
                slot.1 = v.clone();
                return Ok(v);
            }
            self.vars.push((name.clone(), v.clone()));
        }
        Ok(v)
    }

    fn arg(&mut self, a: &Arg, dot: &Value) -> Result<Value, TemplateError> {
        match a {
            Arg::Field(f) => walk(dot, f, dot == self.root),
            Arg::Var(n, f) => {
                let base = if n.is_empty() {
                    self.root.clone()
                } else {
                    self.vars
                        .iter()
                        .rev()
                        .find(|(k, _)| k == n)
                        .map(|(_, v)| v.clone())
                        .ok_or_else(|| TemplateError(format!("undefined variable: ${n}")))?
                };
                walk(&base, f, n.is_empty())
            }
            Arg::Lit(v) => Ok(v.clone()),
            Arg::Func(name) => call(name, &[]),
            Arg::Sub(p, f) => {
                let v = self.pipe(p, dot)?;
                walk(&v, f, false)
            }
        }
    }

    fn cmd(&mut self, c: &Cmd, dot: &Value, prev: Option<Value>) -> Result<Value, TemplateError> {
        match &c.0[0] {
            Arg::Func(name) => {
                // `and`/`or` short-circuit like Go 1.18+.
                if name == "and" || name == "or" {
                    let want = name == "or";
                    let mut last = Value::Null;
                    let n = c.0.len() - 1 + usize::from(prev.is_some());
                    if n == 0 {
                        return err(format!("wrong number of args for {name}"));
                    }
                    for a in &c.0[1..] {
                        last = self.arg(a, dot)?;
                        if truthy(&last) == want {
                            return Ok(last);
                        }
                    }
                    if let Some(p) = prev {
                        last = p;
                    }
                    return Ok(last);
                }
                let mut args = Vec::with_capacity(c.0.len());
                for a in &c.0[1..] {
                    args.push(self.arg(a, dot)?);
                }
                if let Some(p) = prev {
                    args.push(p);
                }
                call(name, &args)
            }
            single => {
                if prev.is_some() {
                    return err("can't give argument to non-function");
                }
                self.arg(single, dot)
            }
        }
    }
}

/// Follows `.A.B`: unknown fields of the top-level data are an error (as for a Go struct);
/// missing keys of nested maps are empty (Go would print "<no value>").
fn walk(base: &Value, fields: &[String], strict_first: bool) -> Result<Value, TemplateError> {
    let mut cur = base.clone();
    for (i, f) in fields.iter().enumerate() {
        cur = match &cur {
            Value::Object(o) => match o.get(f) {
                Some(v) => v.clone(),
                None if i == 0 && strict_first => {
                    return err(format!("can't evaluate field {f}"));
                }
                None => Value::Null,
            },
            Value::Null => Value::Null,
            other => {
                return err(format!("can't evaluate field {f} in {}", to_text(other)));
            }
        };
    }
    Ok(cur)
}

fn num(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

fn compare(a: &Value, b: &Value) -> Result<std::cmp::Ordering, TemplateError> {
    match (a, b) {
        (Value::String(x), Value::String(y)) => Ok(x.cmp(y)),
        _ => match (num(a), num(b)) {
            (Some(x), Some(y)) => x
                .partial_cmp(&y)
                .ok_or_else(|| TemplateError("incomparable numbers".into())),
            _ => err(format!(
                "incompatible types for comparison: {} and {}",
                to_text(a),
                to_text(b)
            )),
        },
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (num(a), num(b)) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn want(name: &str, args: &[Value], n: usize) -> Result<(), TemplateError> {
    if args.len() != n {
        return err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ));
    }
    Ok(())
}

fn text_arg(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        o => to_text(o),
    }
}

fn call(name: &str, args: &[Value]) -> Result<Value, TemplateError> {
    use std::cmp::Ordering::*;
    let s = |v: String| Ok(Value::String(v));
    match name {
        "not" => {
            want(name, args, 1)?;
            Ok(Value::Bool(!truthy(&args[0])))
        }
        "eq" => {
            if args.len() < 2 {
                return err("missing argument for comparison");
            }
            Ok(Value::Bool(args[1..].iter().any(|b| equal(&args[0], b))))
        }
        "ne" => {
            want(name, args, 2)?;
            Ok(Value::Bool(!equal(&args[0], &args[1])))
        }
        "lt" | "le" | "gt" | "ge" => {
            want(name, args, 2)?;
            let o = compare(&args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "lt" => o == Less,
                "le" => o != Greater,
                "gt" => o == Greater,
                _ => o != Less,
            }))
        }
        "len" => {
            want(name, args, 1)?;
            match &args[0] {
                Value::String(x) => Ok(Value::from(x.len())),
                Value::Array(a) => Ok(Value::from(a.len())),
                Value::Object(o) => Ok(Value::from(o.len())),
                Value::Null => Ok(Value::from(0)),
                other => err(format!("len of {}", to_text(other))),
            }
        }
        "index" => {
            if args.is_empty() {
                return err("wrong number of args for index");
            }
            let mut cur = args[0].clone();
            for k in &args[1..] {
                cur = match (&cur, k) {
                    (Value::Array(a), k) => {
                        let i = num(k)
                            .ok_or_else(|| TemplateError("index of array needs a number".into()))?;
                        if i < 0.0 || i as usize >= a.len() {
                            return err(format!("index out of range: {i}"));
                        }
                        a[i as usize].clone()
                    }
                    (Value::Object(o), k) => o.get(&text_arg(k)).cloned().unwrap_or(Value::Null),
                    (Value::Null, _) => Value::Null,
                    (other, _) => {
                        return err(format!("can't index item of type {}", to_text(other)));
                    }
                };
            }
            Ok(cur)
        }
        "printf" => {
            if args.is_empty() {
                return err("wrong number of args for printf");
            }
            s(sprintf(&text_arg(&args[0]), &args[1..]))
        }
        "print" => {
            // Go adds spaces between operands when neither is a string.
            let mut o = String::new();
            for (i, a) in args.iter().enumerate() {
                if i > 0 && !a.is_string() && !args[i - 1].is_string() {
                    o.push(' ');
                }
                o.push_str(&to_text(a));
            }
            s(o)
        }
        "println" => s(format!(
            "{}\n",
            args.iter().map(to_text).collect::<Vec<_>>().join(" ")
        )),
        "html" => {
            let t: String = args.iter().map(text_arg).collect();
            s(t.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&#34;")
                .replace('\'', "&#39;"))
        }
        "js" => {
            let t: String = args.iter().map(text_arg).collect();
            let mut o = String::new();
            for c in t.chars() {
                match c {
                    '\\' => o.push_str("\\\\"),
                    '\'' => o.push_str("\\'"),
                    '"' => o.push_str("\\\""),
                    '<' => o.push_str("\\u003C"),
                    '>' => o.push_str("\\u003E"),
                    '&' => o.push_str("\\u0026"),
                    '=' => o.push_str("\\u003D"),
                    '\n' => o.push_str("\\n"),
                    '\r' => o.push_str("\\r"),
                    '\t' => o.push_str("\\t"),
                    c => o.push(c),
                }
            }
            s(o)
        }
        "urlquery" | "urlencode" => {
            let t: String = args.iter().map(text_arg).collect();
            s(query_escape(&t))
        }
        "urlpath" | "pathescape" => {
            want(name, args, 1)?;
            s(path_escape(&text_arg(&args[0])))
        }
        "title" => {
            want(name, args, 1)?;
            let t = text_arg(&args[0]);
            let mut c = t.chars();
            s(match c.next() {
                Some(f) => f.to_uppercase().collect::<String>() + &c.as_str().to_lowercase(),
                None => String::new(),
            })
        }
        "upper" => {
            want(name, args, 1)?;
            s(text_arg(&args[0]).to_uppercase())
        }
        "lower" => {
            want(name, args, 1)?;
            s(text_arg(&args[0]).to_lowercase())
        }
        "json" => {
            want(name, args, 1)?;
            s(serde_json::to_string(&args[0]).unwrap_or_default())
        }
        other => err(format!("function {other:?} not defined")),
    }
}

fn query_escape(t: &str) -> String {
    let mut o = String::new();
    for b in t.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b' ' => o.push('+'),
            b => {
                let _ = write!(o, "%{b:02X}");
            }
        }
    }
    o
}

fn path_escape(t: &str) -> String {
    let mut o = String::new();
    for b in t.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                o.push(b as char)
            }
            b => {
                let _ = write!(o, "%{b:02X}");
            }
        }
    }
    o
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %f %e %g %q %t %x %%`, with
/// flags `-+0 `, width and precision. Missing operands print `%!v(MISSING)` like Go.
pub fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut it = fmt.chars().peekable();
    let mut ai = 0;
    while let Some(c) = it.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut left = false;
        let mut zero = false;
        let mut plus = false;
        while let Some(&f) = it.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' => plus = true,
                ' ' | '#' => {}
                _ => break,
            }
            it.next();
        }
        let mut width = String::new();
        while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
            width.push(d);
            it.next();
        }
        let mut prec: Option<usize> = None;
        if it.peek() == Some(&'.') {
            it.next();
            let mut p = String::new();
            while let Some(&d) = it.peek().filter(|d| d.is_ascii_digit()) {
                p.push(d);
                it.next();
            }
            prec = Some(p.parse().unwrap_or(0));
        }
        let Some(verb) = it.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(ai) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        ai += 1;
        let body = match verb {
            'f' | 'F' | 'e' | 'g' => match num(arg) {
                Some(f) => {
                    let p = prec.unwrap_or(6);
                    let mut t = match verb {
                        'e' => format!("{f:.p$e}"),
                        'g' => match prec {
                            Some(p) => format!("{f:.p$}"),
                            None => to_text(arg),
                        },
                        _ => format!("{f:.p$}"),
                    };
                    if plus && f >= 0.0 {
                        t.insert(0, '+');
                    }
                    t
                }
                None => format!("%!{verb}({})", to_text(arg)),
            },
            'd' => match num(arg) {
                Some(f) if f.fract() == 0.0 => {
                    let mut t = format!("{}", f as i64);
                    if plus && f >= 0.0 {
                        t.insert(0, '+');
                    }
                    t
                }
                _ => format!("%!d({})", to_text(arg)),
            },
            'x' | 'X' => match (num(arg), arg) {
                (Some(f), _) if f.fract() == 0.0 => {
                    if verb == 'x' {
                        format!("{:x}", f as i64)
                    } else {
                        format!("{:X}", f as i64)
                    }
                }
                (_, Value::String(t)) => t.bytes().map(|b| format!("{b:02x}")).collect(),
                _ => format!("%!x({})", to_text(arg)),
            },
            'q' => serde_json::to_string(&text_arg(arg)).unwrap_or_default(),
            't' => match arg {
                Value::Bool(b) => b.to_string(),
                o => format!("%!t({})", to_text(o)),
            },
            's' | 'v' => {
                let t = to_text(arg);
                match prec {
                    Some(p) if verb == 's' => t.chars().take(p).collect(),
                    _ => t,
                }
            }
            other => format!("%!{other}({})", to_text(arg)),
        };
        let w: usize = width.parse().unwrap_or(0);
        let len = body.chars().count();
        if len < w {
            let pad = w - len;
            if left {
                out.push_str(&body);
                out.push_str(&" ".repeat(pad));
            } else if zero && matches!(verb, 'd' | 'f' | 'F' | 'e' | 'g' | 'x' | 'X') {
                let (sign, digits) = match body.strip_prefix('-') {
                    Some(d) => ("-", d),
                    None => ("", body.as_str()),
                };
                out.push_str(sign);
                out.push_str(&"0".repeat(pad));
                out.push_str(digits);
            } else {
                out.push_str(&" ".repeat(pad));
                out.push_str(&body);
            }
        } else {
            out.push_str(&body);
        }
    }
    if ai < args.len() {
        out.push_str("%!(EXTRA ");
        out.push_str(
            &args[ai..]
                .iter()
                .map(to_text)
                .collect::<Vec<_>>()
                .join(", "),
        );
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> Value {
        json!({
            "Level": "critical", "Message": "CPU \"hot\"\nnow", "Value": 95.55, "Threshold": 80.0,
            "ResourceName": "web 1", "AlertCount": 2,
            "Alerts": [{"ResourceName": "a", "Value": 1.5}, {"ResourceName": "b", "Value": 2.25}],
            "CustomFields": {"priority": "2"}, "Metadata": {}
        })
    }

    fn r(src: &str) -> Result<String, TemplateError> {
        render(src, &data(), Escape::None)
    }

    #[test]
    fn fields_functions_and_pipelines() {
        assert_eq!(r("{{.Level}}").unwrap(), "critical");
        assert_eq!(r("{{.Level | title}}").unwrap(), "Critical");
        assert_eq!(r("{{upper .Level}}").unwrap(), "CRITICAL");
        assert_eq!(r("{{printf \"%.1f\" .Value}}").unwrap(), "95.5");
        assert_eq!(r("{{.Threshold | printf \"%.0f%%\"}}").unwrap(), "80%");
        assert_eq!(r("{{.Value}}").unwrap(), "95.55");
        assert_eq!(r("{{.Threshold}}").unwrap(), "80");
        assert_eq!(r("{{urlquery .ResourceName}}").unwrap(), "web+1");
        assert_eq!(r("{{urlpath .ResourceName}}").unwrap(), "web%201");
        assert_eq!(r("{{len .Alerts}}").unwrap(), "2");
        assert_eq!(r("{{(index .Alerts 1).ResourceName}}").unwrap(), "b");
        assert_eq!(r("{{index .CustomFields \"priority\"}}").unwrap(), "2");
        assert_eq!(r("{{.CustomFields.missing}}").unwrap(), "");
        assert_eq!(r("{{$.Level}}").unwrap(), "critical");
    }

    #[test]
    fn conditionals_ranges_and_trimming() {
        let t = "{{if eq .Level \"critical\"}}C{{else if eq .Level \"warning\"}}W{{else}}I{{end}}";
        assert_eq!(r(t).unwrap(), "C");
        assert_eq!(
            r("{{if and (gt .Value 90.0) (not false)}}y{{end}}").unwrap(),
            "y"
        );
        assert_eq!(r("{{if or false 0 \"\"}}y{{else}}n{{end}}").unwrap(), "n");
        assert_eq!(
            r("{{range $i, $a := .Alerts}}{{if $i}},{{end}}{{$a.ResourceName}}={{.Value}}{{end}}")
                .unwrap(),
            "a=1.5,b=2.25"
        );
        assert_eq!(
            r("{{range .Missing}}x{{else}}none{{end}}").unwrap_err().0,
            "can't evaluate field Missing"
        );
        assert_eq!(
            r("{{range .Metadata}}x{{else}}none{{end}}").unwrap(),
            "none"
        );
        assert_eq!(r("a  {{- .Level -}}  b").unwrap(), "acriticalb");
        assert_eq!(r("{{/* note */}}x").unwrap(), "x");
        assert_eq!(
            r("{{with .CustomFields}}{{.priority}}{{end}}").unwrap(),
            "2"
        );
        assert_eq!(r("{{$x := .Level}}{{$x}}").unwrap(), "critical");
    }

    #[test]
    fn json_mode_escapes_printed_strings() {
        let out = render("{\"m\":\"{{.Message}}\"}", &data(), Escape::Json).unwrap();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["m"], "CPU \"hot\"\nnow");
    }

    #[test]
    fn malformed_templates_are_errors_not_panics() {
        for bad in [
            "{{.Level",
            "{{if .Level}}x",
            "{{end}}",
            "{{else}}",
            "{{nosuch .Level}}",
            "{{.Level | }}",
            "{{\"unterminated}}",
            "{{(.Level}}",
            "{{.Level)}}",
            "{{range}}{{end}}",
            "{{template \"x\"}}",
            "{{}}",
            "{{ 1.2.3 }}",
            "{{if .A}}{{else if}}{{end}}",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad} should not parse");
        }
        assert!(r("{{.Nope}}").is_err());
        assert!(r("{{.Level.Sub}}").is_err());
        assert!(r("{{lt .Level 3}}").is_err());
        assert!(r("{{$undefined}}").is_err());
        assert!(r("{{index .Alerts 9}}").is_err());
    }

    #[test]
    fn sprintf_matches_go() {
        assert_eq!(
            sprintf(
                "%5.1f|%-4s|%03d|%q|%t",
                &[
                    json!(12.34567),
                    json!("ab"),
                    json!(7),
                    json!("x\"y"),
                    json!(true)
                ]
            ),
            " 12.3|ab  |007|\"x\\\"y\"|true"
        );
        assert_eq!(sprintf("%d%%", &[json!(50)]), "50%");
        assert_eq!(sprintf("%s", &[]), "%!s(MISSING)");
        assert_eq!(sprintf("%v %v", &[json!("a"), json!(2.5)]), "a 2.5");
    }
}
