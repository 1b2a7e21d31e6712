// The `vite` dev server serves index.html as it is: a directive inside an
// attribute would be requested literally (`GET /<!--#frev ...`, answered with
// index.html). In dev mode only, this plugin puts in what the directives stand
// for: `#frev` and `#fhash` name the file itself (the dev server always sends
// the current one), `#include virtual` inserts the file from public/, and
// `#echo` is empty (no BUILD_ID: the update notice stays off). The script
// ssibake writes at build time is an empty one. `vite build` leaves every
// directive for ssibake, which `npm run build` runs as `postbuild`.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const directive = /<!--#(frev|fhash|include|echo)\s+(?:virtual|var)=(['"])([^'"]*)\2\s*-->/g;

function ssibakeDev() {
  let publicDir = "public";
  return {
    name: "ssibake-dev",
    apply: "serve",
    configResolved(config) {
      publicDir = config.publicDir;
    },
    configureServer(server) {
      server.middlewares.use("/ssibake-update.js", (_req, res) => {
        res.setHeader("Content-Type", "text/javascript");
        res.end("// ssibake writes the update notice at build time\n");
      });
    },
    transformIndexHtml: {
      order: "pre",
      handler(html) {
        return html.replace(directive, (whole, name, _quote, value) => {
          if (name === "frev") return value;
          if (name === "fhash") return "dev";
          if (name === "echo") return "";
          try {
            return readFileSync(join(publicDir, value.split("?")[0]), "utf8");
          } catch {
            return whole;
          }
        });
      },
    },
  };
}

export default {
  plugins: [ssibakeDev()],
};
