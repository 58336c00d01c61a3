import { captureFile } from './dist/src/store/capture-file.js';
import fs from 'node:fs'; import { execFileSync } from 'node:child_process';
const src='/tmp/mb/src.bin';
const st=fs.statSync(src,{bigint:true});
const entry={path:'src.bin',type:'file',size:Number(st.size),mtimeNs:st.mtimeNs.toString(),ino:Number(st.ino),mode:0o644};
const res={};
const t=async(name,fn)=>{execFileSync('sync');const t0=performance.now();await fn();(res[name]??=[]).push(((performance.now()-t0)/1000).toFixed(2));};
for (let r=0;r<6;r++){
await t('captureFile', ()=>captureFile(src,'/tmp/mb/d1',entry)); fs.rmSync('/tmp/mb/d1');
await t('cp+sync', ()=>{execFileSync('cp',['-a',src,'/tmp/mb/d2']);execFileSync('sync',['-f','/tmp/mb/d2'])}); fs.rmSync('/tmp/mb/d2');
}
console.log(JSON.stringify(res));
