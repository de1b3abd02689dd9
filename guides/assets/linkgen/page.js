/* The link generator form: reads the fields, builds the link with links.js, shows the link, what was
 * corrected, what was refused, the folder it clones into, a QR code and the equivalent command.
 * Everything runs in the browser; nothing is sent anywhere. */
(function () {
  "use strict";

  const root = document.getElementById("coursehub-linkgen");
  if (!root) return;
  const links = window.coursehubLinks;
  // URLs are UTF-8 in QR codes, as coursehub's own QR codes (segno) encode them.
  window.qrcode.stringToBytes = window.qrcode.stringToBytesFuncs["UTF-8"];

  /** The QR code of ``text`` as rows of "1" (dark) and "0", error correction M (as `coursehub link --qr`). */
  function qrModules(text) {
    const qr = window.qrcode(0, "M");
    qr.addData(text, "Byte");
    qr.make();
    const n = qr.getModuleCount();
    const rows = [];
    for (let r = 0; r < n; r++) {
      let row = "";
      for (let c = 0; c < n; c++) row += qr.isDark(r, c) ? "1" : "0";
      rows.push(row);
    }
    return rows;
  }

  function qrSvg(rows, scale = 4, border = 4) {
    const size = (rows.length + 2 * border) * scale;
    let d = "";
    rows.forEach((row, r) => {
      for (let c = 0; c < row.length; c++) {
        if (row[c] === "1") d += `M${(c + border) * scale} ${(r + border) * scale}h${scale}v${scale}h-${scale}z`;
      }
    });
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}" viewBox="0 0 ${size} ${size}">` +
      `<rect width="100%" height="100%" fill="#fff"/><path d="${d}" fill="#000"/></svg>`;
  }

  const field = (name) => root.querySelector(`[name="${name}"]`);
  const out = (name) => root.querySelector(`[data-out="${name}"]`);
  const value = (name) => {
    const el = field(name);
    return el && el.value !== "" ? el.value : null;
  };

  /** The options the form holds, as build_link's keyword arguments (an empty field is an absent option). */
  function read() {
    const launch = root.querySelector('[name="launch"]:checked').value;
    const iface = value("interface");
    const custom = iface === "custom";
    const options = {
      repo: value("repo") || "",
      branch: value("branch"),
      path: custom ? null : value("path"),
      interface: custom ? null : iface,
      urlpath: custom ? value("urlpath") : null,
      targetpath: value("targetpath"),
      launch,
    };
    if (launch === "binder") {
      Object.assign(options, { binder_url: value("binder_url"), env_repo: value("env_repo"), env_branch: value("env_branch") });
    } else {
      Object.assign(options, { hub: value("hub"), server: value("server") });
    }
    return options;
  }

  // POSIX shell quoting, so the command can be pasted into a terminal as it is.
  const sh = (s) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : "'" + s.replace(/'/g, "'\\''") + "'");

  function command(options) {
    const flags = [["hub", "--hub"], ["repo", "--repo"], ["branch", "--branch"], ["path", "--path"],
      ["interface", "--interface"], ["urlpath", "--urlpath"], ["targetpath", "--targetpath"], ["server", "--server"],
      ["binder_url", "--binder-url"], ["env_repo", "--env-repo"], ["env_branch", "--env-branch"]];
    const parts = ["coursehub", "link"];
    for (const [key, flag] of flags) if (options[key] !== null && options[key] !== undefined) parts.push(flag, sh(options[key]));
    if (options.launch !== "hub") parts.push("--launch", options.launch);
    return parts.join(" ");
  }

  let current = null;

  function render() {
    const options = read();
    const launch = options.launch;
    root.querySelectorAll("[data-launch]").forEach((el) => {
      el.hidden = !el.dataset.launch.split(" ").includes(launch);
    });
    const custom = field("interface").value === "custom";
    root.querySelector("[data-custom]").hidden = !custom;
    root.querySelector("[data-file]").hidden = custom;

    const warnings = out("warnings");
    warnings.replaceChildren();
    out("error").hidden = true;
    out("result").hidden = true;
    current = null;
    if (!options.repo && !options.hub && !options.binder_url) {
      out("status").textContent = "Fill in the hub and the repository to get a link.";
      return;
    }
    try {
      current = links.buildLink(options);
    } catch (e) {
      if (!(e instanceof links.LinkError)) throw e;
      out("status").textContent = "";
      out("error").hidden = false;
      out("error-text").textContent = e.message;
      return;
    }
    out("status").textContent = "";
    out("result").hidden = false;
    out("url").value = current.url;
    out("folder").textContent = current.folder + "/";
    out("command").textContent = command(options);
    for (const w of current.warnings) {
      const li = document.createElement("li");
      li.textContent = w;
      warnings.appendChild(li);
    }
    out("warnings-box").hidden = current.warnings.length === 0;
    const svg = qrSvg(qrModules(current.url));
    out("qr").innerHTML = svg; // built above from 0/1 modules only: no user text in it
    out("qr-download").href = "data:image/svg+xml;charset=utf-8," + encodeURIComponent(svg);
  }

  root.addEventListener("input", render);
  root.addEventListener("change", render);
  root.querySelector("[data-copy]").addEventListener("click", async () => {
    if (!current) return;
    const button = root.querySelector("[data-copy]");
    try {
      await navigator.clipboard.writeText(current.url); // the link itself, never a wrapped display of it
    } catch (e) {
      out("url").select();
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    setTimeout(() => { button.textContent = "Copy link"; }, 1500);
  });

  // The interface menu lists exactly the interfaces coursehub knows (from rules.js).
  const menu = field("interface");
  for (const name of window.COURSEHUB_LINK_RULES.interfaces) {
    const option = document.createElement("option");
    option.value = option.textContent = name;
    menu.insertBefore(option, menu.querySelector('[value="custom"]'));
  }
  menu.value = "lab";

  links.qrModules = qrModules;
  links.render = render;
  render();
})();
