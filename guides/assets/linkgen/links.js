/* coursehub's nbgitpuller link rules, in the browser.
 *
 * A line-by-line port of coursehub/links/url.py (build_link and the checks it calls), including the
 * parts of Python's urllib.parse, str and repr() whose behaviour decides a link or a message, so the
 * page gives the same link, the same corrections and the same refusals as `coursehub link`.
 * tests/test_linkgen_browser.py drives this page in Chromium over generated and hostile inputs and
 * compares every result with coursehub's own build_link; change the two together.
 *
 * The constants (interfaces, launches, schemes, VS Code's home, what Python counts as whitespace) come
 * from coursehub itself: the site build writes them to rules.js from the Python module.
 */
(function (global) {
  "use strict";

  const RULES = global.COURSEHUB_LINK_RULES;

  class LinkError extends Error {}

  function fail(message) {
    return new LinkError(message);
  }

  // --- the Python string behaviour the rules depend on ----------------------------------------------

  const WHITESPACE = new Set(Array.from(RULES.whitespace));
  const isSpace = (ch) => WHITESPACE.has(ch);
  const chars = (s) => Array.from(s); // code points, as Python iterates a str

  function strip(s, set) {
    const test = set ? (ch) => set.includes(ch) : isSpace;
    const cs = chars(s);
    let a = 0;
    let b = cs.length;
    while (a < b && test(cs[a])) a++;
    while (b > a && test(cs[b - 1])) b--;
    return cs.slice(a, b).join("");
  }
  const rstrip = (s, set) => {
    const cs = chars(s);
    let b = cs.length;
    while (b > 0 && set.includes(cs[b - 1])) b--;
    return cs.slice(0, b).join("");
  };
  const lstrip = (s, set) => {
    const cs = chars(s);
    let a = 0;
    while (a < cs.length && set.includes(cs[a])) a++;
    return cs.slice(a).join("");
  };

  function partition(s, sep) {
    const i = s.indexOf(sep);
    return i < 0 ? [s, "", ""] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  }
  function rpartition(s, sep) {
    const i = s.lastIndexOf(sep);
    return i < 0 ? ["", "", s] : [s.slice(0, i), sep, s.slice(i + sep.length)];
  }

  // str.isprintable(): false for categories Cc, Cf, Cs, Co, Cn, Zl, Zp and Zs (but ' ').
  const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

  /** Python's repr() of a str, as the messages show it. */
  function pyRepr(s) {
    const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = quote;
    for (const ch of chars(s)) {
      const cp = ch.codePointAt(0);
      if (ch === quote || ch === "\\") out += "\\" + ch;
      else if (ch === "\t") out += "\\t";
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (cp < 0x20 || cp === 0x7f) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp < 0x7f) out += ch;
      else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
        if (cp <= 0xff) out += "\\x" + cp.toString(16).padStart(2, "0");
        else if (cp <= 0xffff) out += "\\u" + cp.toString(16).padStart(4, "0");
        else out += "\\U" + cp.toString(16).padStart(8, "0");
      } else out += ch;
    }
    return out + quote;
  }

  // --- urllib.parse (Python 3.11) ---------------------------------------------------------------------

  const SCHEME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
  const C0_OR_SPACE = Array.from({ length: 0x21 }, (_, i) => String.fromCharCode(i)).join("");
  const USES_NETLOC = ["", "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https",
    "shttp", "snews", "prospero", "rtsp", "rtsps", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
    "git+ssh", "ws", "wss"];
  const isAsciiAlpha = (ch) => /^[A-Za-z]$/.test(ch);

  class URLValueError extends Error {}

  function parseIPv4(s) {
    if (!s) throw new URLValueError("empty");
    const octets = s.split(".");
    if (octets.length !== 4) throw new URLValueError("octets");
    for (const o of octets) {
      if (!o || !/^[0-9]+$/.test(o) || o.length > 3 || (o !== "0" && o[0] === "0") || parseInt(o, 10) > 255) {
        throw new URLValueError("octet");
      }
    }
    return octets.reduce((n, o) => n * 256 + parseInt(o, 10), 0);
  }

  function parseIPv6(s) {
    // ipaddress.IPv6Address(s): an optional %scope, hextets, at most one "::", a trailing IPv4.
    const [addr, sep, scope] = partition(s, "%");
    if (sep && (!scope || scope.includes("%"))) throw new URLValueError("scope");
    if (!addr) throw new URLValueError("empty");
    const parts = addr.split(":");
    if (parts.length < 3) throw new URLValueError("parts");
    if (parts[parts.length - 1].includes(".")) {
      const v4 = parseIPv4(parts.pop());
      parts.push(Math.floor(v4 / 65536).toString(16), (v4 % 65536).toString(16));
    }
    if (parts.length > 9) throw new URLValueError("parts");
    let skip = null;
    for (let i = 1; i < parts.length - 1; i++) {
      if (!parts[i]) {
        if (skip !== null) throw new URLValueError("::");
        skip = i;
      }
    }
    let hi;
    let lo;
    if (skip !== null) {
      hi = skip;
      lo = parts.length - skip - 1;
      if (!parts[0]) {
        hi -= 1;
        if (hi) throw new URLValueError("leading :");
      }
      if (!parts[parts.length - 1]) {
        lo -= 1;
        if (lo) throw new URLValueError("trailing :");
      }
      if (8 - (hi + lo) < 1) throw new URLValueError("too many");
    } else {
      if (parts.length !== 8 || !parts[0] || !parts[parts.length - 1]) throw new URLValueError("count");
      hi = parts.length;
      lo = 0;
    }
    const hextet = (h) => {
      if (!/^[0-9a-fA-F]*$/.test(h) || h.length > 4) throw new URLValueError("hextet");
      return parseInt(h || "0", 16);
    };
    for (let i = 0; i < hi; i++) hextet(parts[i]);
    for (let i = parts.length - lo; i < parts.length; i++) hextet(parts[i]);
  }

  function checkBracketedHost(host) {
    if (host.startsWith("v")) {
      if (!/^v[a-fA-F0-9]+\.[^\n]+$/.test(host)) throw new URLValueError("IPvFuture");
      return;
    }
    let v4 = true;
    try {
      parseIPv4(host);
    } catch (e) {
      v4 = false;
    }
    if (v4) throw new URLValueError("IPv4 in brackets");
    parseIPv6(host);
  }

  function checkNetloc(netloc) {
    if (!netloc || /^[\x00-\x7f]*$/.test(netloc)) return;
    const n = netloc.replace(/[@:#?]/g, "");
    const n2 = n.normalize("NFKC");
    if (n === n2) return;
    for (const c of "/?#@:") if (n2.includes(c)) throw new URLValueError("NFKC");
  }

  function urlsplit(url) {
    url = lstrip(url, C0_OR_SPACE).replace(/[\t\r\n]/g, "");
    let scheme = "";
    let netloc = "";
    let query = "";
    let fragment = "";
    const i = url.indexOf(":");
    if (i > 0 && isAsciiAlpha(url[0]) && Array.from(url.slice(0, i)).every((c) => SCHEME_CHARS.includes(c))) {
      scheme = url.slice(0, i).toLowerCase();
      url = url.slice(i + 1);
    }
    if (url.slice(0, 2) === "//") {
      let delim = url.length;
      for (const c of "/?#") {
        const w = url.indexOf(c, 2);
        if (w >= 0) delim = Math.min(delim, w);
      }
      netloc = url.slice(2, delim);
      url = url.slice(delim);
      if ((netloc.includes("[") && !netloc.includes("]")) || (netloc.includes("]") && !netloc.includes("["))) {
        throw new URLValueError("Invalid IPv6 URL");
      }
      if (netloc.includes("[") && netloc.includes("]")) {
        checkBracketedHost(partition(partition(netloc, "[")[2], "]")[0]);
      }
    }
    if (url.includes("#")) [url, fragment] = [url.slice(0, url.indexOf("#")), url.slice(url.indexOf("#") + 1)];
    if (url.includes("?")) [url, query] = [url.slice(0, url.indexOf("?")), url.slice(url.indexOf("?") + 1)];
    checkNetloc(netloc);
    const userinfo = () => {
      const [info, have] = rpartition(netloc, "@");
      if (!have) return [null, null];
      const [user, havePw, pw] = partition(info, ":");
      return [user, havePw ? pw : null];
    };
    const hostname = () => {
      const hostinfo = rpartition(netloc, "@")[2];
      const [, open, bracketed] = partition(hostinfo, "[");
      const host = open ? partition(bracketed, "]")[0] : partition(hostinfo, ":")[0];
      if (!host) return null;
      const [name, pct, zone] = partition(host, "%");
      return name.toLowerCase() + pct + zone;
    };
    return {
      scheme, netloc, path: url, query, fragment,
      get username() { return userinfo()[0]; },
      get password() { return userinfo()[1]; },
      get hostname() { return hostname(); },
    };
  }

  function urlunsplit([scheme, netloc, url, query, fragment]) {
    if (netloc || (scheme && USES_NETLOC.includes(scheme) && url.slice(0, 2) !== "//")) {
      if (url && url[0] !== "/") url = "/" + url;
      url = "//" + (netloc || "") + url;
    }
    if (scheme) url = scheme + ":" + url;
    if (query) url += "?" + query;
    if (fragment) url += "#" + fragment;
    return url;
  }

  const ALWAYS_SAFE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~";
  const utf8 = new TextEncoder();

  function quote(s, safe = "/") {
    let out = "";
    for (const b of utf8.encode(s)) {
      const ch = String.fromCharCode(b);
      out += b < 0x80 && (ALWAYS_SAFE.includes(ch) || safe.includes(ch)) ? ch : "%" + b.toString(16).toUpperCase().padStart(2, "0");
    }
    return out;
  }

  function quotePlus(s, safe) {
    return s.includes(" ") ? quote(s, safe + " ").replace(/ /g, "+") : quote(s, safe);
  }

  function unquote(s) {
    // urllib.parse.unquote: %XX escapes in each run of ASCII become bytes, decoded as UTF-8 with U+FFFD
    // for what is not UTF-8; other characters are kept.
    if (!s.includes("%")) return s;
    const decoder = new TextDecoder("utf-8", { fatal: false });
    return s.split(/([\x00-\x7f]+)/).map((run, i) => {
      if (i % 2 === 0) return run;
      const bytes = [];
      const bits = run.split("%");
      for (const ch of bits[0]) bytes.push(ch.charCodeAt(0));
      for (const item of bits.slice(1)) {
        if (/^[0-9a-fA-F]{2}/.test(item)) {
          bytes.push(parseInt(item.slice(0, 2), 16));
          for (const ch of item.slice(2)) bytes.push(ch.charCodeAt(0));
        } else {
          bytes.push(0x25);
          for (const ch of item) bytes.push(ch.charCodeAt(0));
        }
      }
      return decoder.decode(new Uint8Array(bytes));
    }).join("");
  }

  // --- encoding (url.py) --------------------------------------------------------------------------------

  const form = (value) => quotePlus(value, "*").replace(/~/g, "%7E");
  const query = (pairs) => pairs.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${form(k)}=${form(v)}`).join("&");

  function pathSegment(text) {
    return chars(text).map((ch) => {
      const cp = ch.codePointAt(0);
      return "%?#".includes(ch) || cp < 0x20 || cp === 0x7f ? quote(ch, "") : ch;
    }).join("");
  }

  // --- validation (url.py) ------------------------------------------------------------------------------

  const SERVER_NAME_RE = /^[a-z](?:[a-z0-9]|-(?!-)){0,29}$/;
  const BAD_REF_RE = /(\.\.|@\{|[\x00-\x20\x7f~^:?*[\\]|\/\/|\/\.|\.lock(\/|$)|^\/|\/$|^\.|\.$|^@$)/;
  const SCP_LIKE_RE = /^(?:([^@/:]+)@)?([A-Za-z0-9.-]+):((?!\/\/)[^\n]+)$/;
  const GITHUB_PAGE_RE = /^\/([^/]+)\/([^/]+)\/(tree|blob)\/([^\n]+)$/;

  function split(url, what, original) {
    try {
      return urlsplit(url);
    } catch (e) {
      if (e instanceof URLValueError) throw fail(`the ${what} URL ${pyRepr(original)} has a malformed host`);
      throw e;
    }
  }

  function cloneFolder(repo, targetpath) {
    if (targetpath) return targetpath;
    const parts = rstrip(repo, "/").split("/");
    return parts[parts.length - 1];
  }

  function checkRepo(repo, what = "repository") {
    const original = repo;
    repo = strip(repo);
    const warnings = [];
    const hints = {};
    if (!repo) throw fail(`the ${what} URL is empty`);
    if (repo.startsWith("-")) {
      throw fail(`the ${what} URL ${pyRepr(original)} starts with '-' and would be read by git as an option`);
    }
    if (chars(repo).some((ch) => ch.codePointAt(0) < 0x20 || ch.codePointAt(0) === 0x7f || isSpace(ch))) {
      throw fail(`the ${what} URL ${pyRepr(original)} contains whitespace or control characters`);
    }
    if (repo.split("/")[0].includes("::")) {
      throw fail(`the ${what} ${pyRepr(original)} uses git's transport::address syntax, which is not allowed`);
    }
    const scp = repo.includes("://") ? null : SCP_LIKE_RE.exec(repo);
    if (scp && !/^[/.~]/.test(repo) && scp[2].length > 1) {
      if (scp[3].split("/")[0].includes("@")) {
        throw fail(`the ${what} URL embeds credentials; every student would see them in the link`);
      }
      warnings.push(`${what} ${repo} is an SSH URL: student servers normally have no SSH key for it; an https:// URL works for public repositories`);
      return [rstrip(repo, "/"), warnings, hints];
    }
    const parts = split(repo, what, original);
    const scheme = parts.scheme.toLowerCase();
    if (!scheme) {
      throw fail(`the ${what} ${pyRepr(original)} is not a URL git can fetch from a student server (use one of ${RULES.repo_schemes.map((s) => s + "://").join(", ")})`);
    }
    if (!RULES.repo_schemes.includes(scheme)) {
      throw fail(`the ${what} URL scheme ${pyRepr(scheme)} is not allowed (only ${RULES.repo_schemes.join(", ")}); file:// and ext:: would read the server's own files or run commands`);
    }
    if (!parts.hostname) throw fail(`the ${what} URL ${pyRepr(original)} has no host`);
    if (parts.password !== null || (parts.username !== null && ["http", "https", "git"].includes(scheme))) {
      throw fail(`the ${what} URL ${parts.scheme}://${parts.hostname}/... embeds credentials; every student would see them in the link. Make the repository public or use a deploy mechanism instead`);
    }
    if (parts.query || parts.fragment) {
      throw fail(`the ${what} URL ${pyRepr(original)} has a query or fragment; give the plain clone URL`);
    }
    const path = parts.path;
    if (scheme === "ssh" && parts.username !== null) {
      warnings.push(`${what} ${repo} is an SSH URL: student servers normally have no SSH key for it`);
    }
    if ((scheme === "http" || scheme === "https") && ["github.com", "www.github.com"].includes(parts.hostname.toLowerCase())) {
      const page = GITHUB_PAGE_RE.exec(path);
      if (page) {
        const fixed = urlunsplit([scheme, parts.netloc, `/${page[1]}/${page[2]}`, "", ""]);
        const rest = strip(page[4], "/");
        const [ref, , inner] = partition(rest, "/");
        hints.branch = ref;
        if (inner) hints.path = unquote(inner);
        warnings.push(`${repo} is a GitHub page, not a clone URL; using ${fixed} (branch ${pyRepr(ref)}` +
          (inner ? `, path ${pyRepr(hints.path)}` : "") + ")");
        return [fixed, warnings, hints];
      }
    }
    const stripped = rstrip(path, "/");
    if (!stripped) throw fail(`the ${what} URL ${pyRepr(original)} has no repository path`);
    return [urlunsplit([parts.scheme, parts.netloc, stripped, "", ""]), warnings, hints];
  }

  function checkBranch(branch, what = "branch") {
    if (branch === null || branch === undefined || branch === "") return null;
    if (branch.startsWith("-")) throw fail(`the ${what} ${pyRepr(branch)} starts with '-' and would be read by git as an option`);
    if (BAD_REF_RE.test(branch)) throw fail(`the ${what} ${pyRepr(branch)} is not a valid git branch name`);
    return branch;
  }

  function checkTargetpath(targetpath) {
    if (targetpath === null || targetpath === undefined || strip(targetpath) === "") return null;
    if (targetpath.startsWith("/") || targetpath.startsWith("~") || /^[A-Za-z]:[\\/]/.test(targetpath)) {
      throw fail(`the target path ${pyRepr(targetpath)} must be relative to the student's home folder`);
    }
    if (targetpath.includes("\\") || chars(targetpath).some((ch) => ch.codePointAt(0) < 0x20)) {
      throw fail(`the target path ${pyRepr(targetpath)} contains backslashes or control characters`);
    }
    const parts = targetpath.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw fail(`the target path ${pyRepr(targetpath)} must not contain '..'`);
    if (!parts.length) throw fail(`the target path ${pyRepr(targetpath)} names no folder`);
    return parts.join("/");
  }

  function checkFilePath(path) {
    if (path === null || path === undefined || path === "") return [null, []];
    const warnings = [];
    if (path.startsWith("/")) warnings.push(`the path ${pyRepr(path)} is relative to the repository; removed the leading '/'`);
    if (path.includes("\\") || chars(path).some((ch) => ch.codePointAt(0) < 0x20)) {
      throw fail(`the path ${pyRepr(path)} contains backslashes or control characters`);
    }
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    if (parts.includes("..")) throw fail(`the path ${pyRepr(path)} must not contain '..'`);
    return [parts.join("/") || null, warnings];
  }

  function checkServer(server) {
    if (server === null || server === undefined || server === "") return null;
    if (!SERVER_NAME_RE.test(server) || server.endsWith("-")) {
      throw fail(`the server name ${pyRepr(server)} is not allowed by JupyterHub 6: use 1-30 lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit`);
    }
    return server;
  }

  function checkHubUrl(hub, what = "hub") {
    const original = hub;
    hub = strip(hub);
    const warnings = [];
    const parts = split(hub, what, original);
    if (!["http", "https"].includes(parts.scheme.toLowerCase()) || !parts.hostname) {
      throw fail(`the ${what} URL ${pyRepr(original)} must start with https:// (or http://)`);
    }
    if (parts.username !== null || parts.password !== null) throw fail(`the ${what} URL must not contain credentials`);
    if (parts.query || parts.fragment) throw fail(`the ${what} URL ${pyRepr(original)} must not have a query or fragment`);
    let path = rstrip(parts.path, "/");
    if (what === "hub") {
      const cut = /\/(hub|user)(\/|$)/.exec(path + "/");
      if (cut) {
        const base = path.slice(0, cut.index);
        const fixed = urlunsplit([parts.scheme, parts.netloc, base + "/", "", ""]);
        warnings.push(`${original} is a page of the hub; using its base URL ${fixed}`);
        path = base;
      }
    }
    if (parts.scheme.toLowerCase() === "http" && !["localhost", "127.0.0.1", "::1"].includes(parts.hostname)) {
      warnings.push(`the ${what} ${original} uses plain http: students' passwords and work would cross the network unencrypted; use https://`);
    }
    return [urlunsplit([parts.scheme.toLowerCase(), parts.netloc.toLowerCase(), path + "/", "", ""]), warnings];
  }

  // --- interfaces ---------------------------------------------------------------------------------------

  function interfaceUrlpath(iface, folder, path) {
    if (!RULES.interfaces.includes(iface)) {
      throw fail(`unknown interface ${pyRepr(iface)}; choose from ${RULES.interfaces.join(", ")} (or give --urlpath)`);
    }
    const target = pathSegment(folder + (path ? `/${path}` : ""));
    if (iface === "lab") return `lab/tree/${target}`;
    if (iface === "notebook") return `tree/${target}`;
    if (iface === "rstudio") return "rstudio/";
    if (iface === "shiny") return `shiny/${target}/`;
    return "vscode/?" + query([["folder", `${RULES.vscode_home}/${folder}`]]);
  }

  // --- binder -------------------------------------------------------------------------------------------

  function binderSpec(envRepo, ref) {
    const parts = urlsplit(envRepo);
    const host = (parts.hostname || "").toLowerCase();
    const path = strip(parts.path, "/");
    const web = parts.scheme === "http" || parts.scheme === "https";
    if (web && host === "github.com" && path.split("/").length === 2) {
      const [owner, name] = path.split("/");
      return `gh/${owner}/${name.endsWith(".git") ? name.slice(0, -4) : name}/${quote(ref, "")}`;
    }
    if (web && host === "gitlab.com" && path.includes("/")) {
      return `gl/${quote(path.endsWith(".git") ? path.slice(0, -4) : path, "")}/${quote(ref, "")}`;
    }
    return `git/${quote(envRepo, "")}/${quote(ref, "")}`;
  }

  function unbinderSpec(provider, spec) {
    if (provider === "gh") {
      const [owner, rest] = [partition(spec, "/")[0], partition(spec, "/")[2]];
      const [name, , ref] = partition(rest, "/");
      return [`https://github.com/${owner}/${name}`, unquote(ref)];
    }
    const [encoded, , ref] = rpartition(spec, "/");
    if (provider === "gl") return [`https://gitlab.com/${unquote(encoded)}`, unquote(ref)];
    return [unquote(encoded), unquote(ref)];
  }

  // --- the link -----------------------------------------------------------------------------------------

  function linkUrl(f) {
    const pull = [["repo", f.repo], ["urlpath", f.urlpath], ["branch", f.branch], ["targetpath", f.targetpath]];
    if (f.launch === "binder") {
      const spec = binderSpec(f.env_repo || "", f.env_branch || "HEAD");
      return `${f.hub}v2/${spec}?` + query([["urlpath", "git-pull?" + query(pull)]]);
    }
    const server = f.server ? `${quote(f.server)}/` : "";
    const redirect = `hub/user-redirect/${server}git-pull?` + query(pull);
    if (f.launch === "lti") {
      const prefix = urlsplit(f.hub).path;
      return `${f.hub}hub/lti/launch?` + query([["next", prefix + redirect]]);
    }
    return f.hub + redirect;
  }

  const given = (v) => v !== null && v !== undefined && v !== "";

  /**
   * The same as coursehub.links.build_link(**options): {url, fields, folder, warnings}, or a thrown
   * LinkError whose message is the one `coursehub link` prints. Absent options are null.
   */
  function buildLink(options) {
    const o = Object.assign({ hub: null, repo: null, branch: null, path: null, interface: null, urlpath: null,
      targetpath: null, server: null, launch: "hub", binder_url: null, env_repo: null, env_branch: null }, options);
    for (const key of Object.keys(o)) if (o[key] === undefined) o[key] = null;
    const aliased = Object.prototype.hasOwnProperty.call(RULES.launch_aliases, o.launch);
    const launch = aliased ? RULES.launch_aliases[o.launch] : o.launch;
    if (!RULES.launches.includes(launch)) {
      throw fail(`unknown launch target ${pyRepr(launch)}; choose from ${RULES.launches.join(", ")}`);
    }
    let warnings = [];
    let [repo, more, hints] = checkRepo(o.repo);
    warnings = warnings.concat(more);
    const branch = checkBranch(o.branch ? o.branch : hints.branch === undefined ? null : hints.branch);
    let path = o.path;
    if (path === null && hints.path !== undefined) path = hints.path;
    [path, more] = checkFilePath(path);
    warnings = warnings.concat(more);
    const targetpath = checkTargetpath(o.targetpath);
    const server = checkServer(o.server);
    const folder = cloneFolder(repo, targetpath);
    if (["", ".", ".."].includes(folder) || folder.startsWith("-")) {
      throw fail(`cannot tell which folder ${repo} would be cloned into; give a target path`);
    }

    let urlpath = o.urlpath;
    if (urlpath !== null && strip(urlpath)) {
      if (o.interface) throw fail("give either an interface or a custom urlpath, not both");
      if (path) throw fail("a custom urlpath already says what opens; drop the path");
      urlpath = lstrip(strip(urlpath), "/");
      if (partition(urlpath, "?")[0].includes("://")) {
        throw fail(`the urlpath ${pyRepr(urlpath)} must be a path on the student's server, not a URL`);
      }
      if (!unquote(urlpath).includes(folder)) {
        warnings.push(`the urlpath ${pyRepr(urlpath)} does not mention the folder ${pyRepr(folder)} the repository is cloned into`);
      }
    } else {
      urlpath = interfaceUrlpath(o.interface || "lab", folder, path);
    }

    let hub;
    let envRepo = null;
    let envBranch = null;
    if (launch === "binder") {
      if (server) throw fail("named servers are a JupyterHub feature; a Binder link cannot choose one");
      if (!given(o.binder_url)) throw fail("a Binder link needs the BinderHub URL (--binder-url, e.g. https://mybinder.org)");
      if (!given(o.env_repo)) throw fail("a Binder link needs the environment repository (--env-repo) whose image runs the content");
      [hub, more] = checkHubUrl(o.binder_url, "BinderHub");
      warnings = warnings.concat(more);
      [envRepo, more] = checkRepo(o.env_repo, "environment repository");
      warnings = warnings.concat(more);
      envBranch = checkBranch(o.env_branch, "environment branch") || "HEAD";
      const [provider, , spec] = partition(binderSpec(envRepo, envBranch), "/");
      [envRepo, envBranch] = unbinderSpec(provider, spec);
    } else {
      if (given(o.binder_url) || given(o.env_repo) || given(o.env_branch)) {
        throw fail("--binder-url, --env-repo and --env-branch only apply to --launch binder");
      }
      if (!given(o.hub)) throw fail("the hub URL is required (--hub https://hub.example.edu)");
      [hub, more] = checkHubUrl(o.hub);
      warnings = warnings.concat(more);
    }
    const fields = { launch, hub, repo, branch, urlpath, targetpath, server, env_repo: envRepo, env_branch: envBranch };
    return { url: linkUrl(fields), fields, folder: cloneFolder(repo, targetpath), warnings };
  }

  global.coursehubLinks = { buildLink, LinkError, pyRepr, urlsplit, quote, unquote };
})(window);
