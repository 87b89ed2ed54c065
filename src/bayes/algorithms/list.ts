// The algorithms, one export line each, in the order --help lists them (the first is
// the default). Adding an algorithm is its folder plus one line here.
export { ensemble } from './ensemble';
export { mswag } from './mswag';
export { svgd } from './svgd';
export { mcdropout } from './mcdropout';
export { sgld } from './sgld';
export { cyclical } from './cyclical';
export { sghmc } from './sghmc';
export { laplace } from './laplace';
