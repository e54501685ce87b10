// Stand-in for the `tslab` module when notebooks run outside Jupyter (scripts/run-notebooks.ts).
// Inside Jupyter the tslab kernel provides the real module; this one prints a short marker so the
// runner can record what a cell displayed.

function emit(kind: string, data: string): void {
  process.stdout.write(`\u0000DISPLAY ${kind} ${Buffer.from(data).toString("base64")}\n`);
}

export const display = {
  html(s: string): void {
    emit("text/html", s);
  },
  markdown(s: string): void {
    emit("text/markdown", s);
  },
  text(s: string): void {
    emit("text/plain", s);
  },
  png(b: Uint8Array): void {
    emit("image/png", Buffer.from(b).toString("base64"));
  },
  jpeg(b: Uint8Array): void {
    emit("image/jpeg", Buffer.from(b).toString("base64"));
  },
  svg(s: string): void {
    emit("image/svg+xml", s);
  },
};

export function newDisplay(): typeof display {
  return display;
}
