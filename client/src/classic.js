// Classic script form (dist/ssibake-update.js): appended to core.js by scripts/build.mjs and
// wrapped in an IIFE, so the only global is window.ssibakeUpdate.
window.ssibakeUpdate = api;
boot(doc.currentScript);
