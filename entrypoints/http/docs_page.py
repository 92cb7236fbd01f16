# ruff: noqa: E501 - embedded HTML/JS
"""A self-contained API docs page: plain HTML + JS rendering /api/v1/openapi.json.
No CDN, so it works with no internet access."""

DOCS_HTML = r"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Agora API</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;display:flex;color:#222}
nav{width:260px;height:100vh;overflow:auto;background:#f5f5f7;padding:12px;position:sticky;top:0}
main{flex:1;padding:16px 28px;max-width:1000px}
.op{border:1px solid #ddd;border-radius:6px;margin:10px 0;padding:8px 12px}
.m{display:inline-block;min-width:60px;font-weight:700;text-transform:uppercase}
.get{color:#0a7}.post{color:#06c}.put,.patch{color:#c70}.delete{color:#c22}
code,pre{background:#f0f0f0;padding:1px 4px;border-radius:3px}pre{padding:8px;overflow:auto}
h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
nav a{display:block;color:#333;text-decoration:none;padding:2px 0}
details summary{cursor:pointer}
</style></head><body>
<nav><b>Agora API</b><div id="toc"></div></nav>
<main><h1>Agora API</h1><p id="desc"></p><div id="ops">loading /api/v1/openapi.json ...</div></main>
<script>
function esc(s){return String(s).replace(/[&<>"]/g,c=>({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]))}
function ref(spec,s){if(s&&s.$ref){return spec.components.schemas[s.$ref.split('/').pop()]}return s}
function show(spec,s,depth){s=ref(spec,s);if(!s)return'';depth=depth||0;if(depth>3)return'...';
 if(s.type==='array')return '['+show(spec,s.items,depth+1)+']';
 if(s.properties){return '{'+Object.entries(s.properties).map(([k,v])=>'\n'+'  '.repeat(depth+1)+k+
   ((s.required||[]).includes(k)?'*':'')+': '+show(spec,v,depth+1)).join(',')+'\n'+'  '.repeat(depth)+'}'}
 return (s.type||'any')+(s.format?'('+s.format+')':'')+(s.enum?' one of '+s.enum.join('|'):'')}
fetch('openapi.json').then(r=>r.json()).then(spec=>{
 document.getElementById('desc').textContent=spec.info.description||'';
 const groups={};
 for(const [path,ops] of Object.entries(spec.paths)){for(const [m,op] of Object.entries(ops)){
   const tag=(op.tags||['other'])[0];(groups[tag]=groups[tag]||[]).push([m,path,op])}}
 let html='',toc='';
 for(const tag of Object.keys(groups).sort()){toc+='<a href="#'+tag+'">'+esc(tag)+'</a>';
  html+='<h2 id="'+tag+'">'+esc(tag)+'</h2>';
  for(const [m,path,op] of groups[tag]){
   const rb=op.requestBody?'<details><summary>request body</summary><pre>'+esc(show(spec,op.requestBody.content['application/json'].schema))+'</pre></details>':'';
   const rs=Object.entries(op.responses).map(([st,r])=>'<details><summary>'+st+' '+esc(r.description)+'</summary>'+
     (r.content?'<pre>'+esc(show(spec,r.content['application/json'].schema))+'</pre>':'')+'</details>').join('');
   html+='<div class="op"><span class="m '+m+'">'+m+'</span> <code>'+esc(path)+'</code> '+
     (op.security?'&#128274;':'')+'<div>'+esc(op.summary||'')+'</div>'+rb+rs+'</div>'}}
 document.getElementById('ops').innerHTML=html;document.getElementById('toc').innerHTML=toc;
}).catch(e=>{document.getElementById('ops').textContent='could not load the OpenAPI document: '+e});
</script></body></html>"""
