/** Builds the console into dist/; answers the gzip size of its script and style. */
export function build(): Promise<{ gzipBytes: number }>;
