import { generate, scenario, runEmstream, mean, scoreTruth } from './bench/streams.js';
const name = process.argv[2] ?? 'jump-8d';
const opts = JSON.parse(process.argv[3] ?? '{"seed":1}');
const every = Number(process.argv[4] ?? 5);
const data = generate(scenario(name));
const truth = scoreTruth(data);
const r = runEmstream(data, opts, (fit, t) => {
  if (t % every === 0 || fit.restarted || fit.reseeded.length) console.log(t, 'w', Array.from(fit.params.weights).map((w) => w.toFixed(3)).join(' '), fit.restarted ? 'R' : '', fit.warmStarted ? 'warm' : 'cold', fit.drift.map((d) => d.kind + (d.components ? d.components.join('/') : '')).join(','), 'reseed', fit.reseeded.join(','), 'it', fit.iterations, fit.componentDrift ? 'm ' + fit.componentDrift.meanStatistics.map((x) => x.toFixed(0)).join(' ') + ' thr ' + fit.componentDrift.meanThreshold.toFixed(0) + ' s ' + fit.componentDrift.shapeStatistics.map((x) => x.toFixed(0)).join(' ') + ' thr ' + fit.componentDrift.shapeThreshold.toFixed(0) + ' f ' + fit.componentDrift.forgetting.map((x) => x.toFixed(2)).join(' ') + ' moved ' + fit.componentDrift.moved + ' w ' + fit.componentDrift.weights.toFixed(2) : '');
});
console.log('ari', mean(r.ari).toFixed(3), 'true', mean(truth.ari).toFixed(3), 'll', mean(r.logLikelihood).toFixed(3), mean(truth.logLikelihood).toFixed(3));
console.log(r.ari.map((a) => a.toFixed(2)).join(' '));
