export declare const DECLARED_FACES: ReadonlySet<string>;
export declare function moduleOf(rel: string): string | undefined;
export declare function isPastFace(from: string, to: string): boolean;
