/** Types for ohif-install.mjs (its pure rewrite helpers are unit-tested). */
export declare const OHIF_VERSION: string;
export declare const BASE: string;
export declare function appConfig(base?: string): string;
export declare function rewriteIndexHtml(html: string, base?: string): string;
export declare function rewriteBundle(js: string, base?: string): string;
export declare function rewriteCss(css: string, base?: string): string;
export declare function rewriteManifest(json: string, base?: string): string;
export declare function rewriteDist(dist: string, base?: string): number;
