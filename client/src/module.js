// ES module form (dist/ssibake-update.mjs): appended to core.js by scripts/build.mjs.
// A module has no document.currentScript: find our own tag (for its data-* options) by URL.
boot([...doc.scripts].find((s) => s.src == import.meta.url));

export { init, checkNow, reload, later, skip, stop };
