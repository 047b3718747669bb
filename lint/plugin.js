/**
 * Gatehouse's own lint rules: one per bug class already fixed once, so the class cannot come back
 * unnoticed, and the public-face import rule of the module map.
 */
import headerAsString from './rules/header-as-string.js';
import mediaTypeMatch from './rules/media-type-match.js';
import publicFace from './rules/public-face.js';
import textCut from './rules/text-cut.js';

export default {
  meta: { name: 'gatehouse' },
  rules: {
    'header-as-string': headerAsString,
    'media-type-match': mediaTypeMatch,
    'public-face': publicFace,
    'text-cut': textCut,
  },
};
